"""S11 for Connect apps: the descriptor, the signed lifecycle, and the signed client apps call the product with."""

from pledge.connect.descriptor import DESCRIPTOR_PATH, descriptor
from pledge.connect.lifecycle_routes import connect_routes
from pledge.connect.product_client import ProductClient, ProductRequestFailed, product_client

__all__ = ["DESCRIPTOR_PATH", "ProductClient", "ProductRequestFailed", "connect_routes", "descriptor", "product_client"]
