"""S11: every request between the product and the app is signed, authenticated and authorised.

The trust layer knows tokens, keys and requests, not the products' routes: the verifiers of an app are put
together by :func:`pledge.serving.verifiers_for`, the layer that knows both Connect and Forge.
"""
