"""The metadata API and the content it shares with the config drive.

- ``content``: what an instance learns about itself (meta_data.json,
  network_data.json, vendor data, user data, the EC2 tree); the config drive
  (nova_runtime/virt/configdrive.py) writes the same files.
- ``lookup``: which instance is asking (fixed address, or a metadata proxy's
  signed X-Instance-ID headers) and its records from its cell.
- ``app``: the WSGI application that nova-api serves on port 8775.
"""
