"""The medical VPN's data plane (VPNゲートウェイ): strongSwan's charon driven over VICI.

``directory`` is what the gateway needs from the control plane (``adapter`` reads it from the
services), ``config`` and ``charon`` run one charon instance, ``sync`` keeps its connections and
secrets equal to the desired state, ``policy`` renders and applies the nftables access policy,
``sweeper`` decides which sessions to cut, ``events`` reads charon's up/down events and
``runner`` is the loop that ties them together (``onshi vpn gateway run``).
"""
