"""The X-Instance-ID-Signature header that a metadata proxy sends and the
metadata API checks: HMAC-SHA256 of the instance uuid under
[neutron] metadata_proxy_shared_secret, as upstream's neutron agent signs it.

Standard library only: the metadata proxy imports it inside a network
namespace, where it runs with nothing else of nova_runtime loaded."""

import hashlib
import hmac


def sign(secret, instance_id):
    return hmac.new(secret.encode(), instance_id.encode(), hashlib.sha256).hexdigest()


def matches(secret, instance_id, signature):
    return hmac.compare_digest(sign(secret, instance_id), signature or "")
