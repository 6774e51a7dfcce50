"""Images: the Glance client that servers (create, rebuild, createImage) use."""
