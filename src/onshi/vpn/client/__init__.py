"""The terminal side of the medical VPN: client profiles (``profiles``) and the doctor (``doctor``).

``profiles`` is pure rendering the portal offers as downloads; ``doctor`` checks a terminal's path
to the gateway (IKE on UDP 500/4500, NAT, certificate, clock, the services through the tunnel).
"""
