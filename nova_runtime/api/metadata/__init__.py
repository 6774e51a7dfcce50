"""The metadata API (port 8775).

- ``lookup``: which instance is asking (fixed address, or a metadata proxy's
  signed X-Instance-ID headers) and its records from its cell.
- ``password``: the server password a guest posts.
- ``app``: the WSGI application that nova-api serves.

What the answers contain is nova_runtime.metadata's, shared with the config drive.
"""
