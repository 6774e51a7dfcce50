"""nova_runtime: an OpenStack-style compute service with cells v2."""
