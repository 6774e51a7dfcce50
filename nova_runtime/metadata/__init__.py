"""What an instance learns about itself, shared by the metadata API
(nova_runtime/api/metadata) and the config drive (nova_runtime/virt/configdrive),
and the signature a metadata proxy puts on its requests.

- ``content``: meta_data.json, network_data.json, user data, the EC2 tree.
- ``vendordata``: the static vendor data file.
- ``signature``: the X-Instance-ID-Signature of a metadata proxy.

These modules import nothing of the API, virt or network packages.
"""
