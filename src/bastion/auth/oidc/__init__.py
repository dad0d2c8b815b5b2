"""Single sign-on through an OpenID Connect provider (SPEC section 5).

``provider`` talks to the provider (discovery, keys, tokens) and validates what it
signs; ``sealing`` keeps its tokens encrypted at rest; ``signin`` is the policy: which
account a provider identity is, what its claims allow, and what a logout revokes.
"""
