"""VNC consoles: tokens issued through the API, checked by nova-novncproxy.

The flow, as upstream's (without nova-consoleauth, with tokens in the cell
database):

1. ``POST /servers/{id}/remote-consoles`` (api.handlers.remote_consoles) finds
   the server's cell and sends get_vnc_console to its compute over RPC
   (``console.api``).
2. The compute asks its virt driver where the instance's VNC server listens,
   makes a random token and stores its SHA-256 hash, that address and an
   expiry ([consoleauth] token_ttl) through its conductor; it answers with
   its [vnc] novncproxy_base_url carrying the token.
3. The browser loads the noVNC page from nova-novncproxy (``console.proxy``)
   and opens a websocket with the token; the proxy checks the Origin, looks
   the token's hash up in its cell's database ([database] connection: one
   proxy per cell) and relays bytes between the websocket and the VNC server.
"""
