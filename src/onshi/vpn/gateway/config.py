"""charon's ``strongswan.conf`` for one instance, and the choice of ESP engine.

The kernel's ESP (XFRM) is used where the kernel has it; where it does not (``CONFIG_INET_ESP``
unset: IKE completes but installing the SA fails), strongSwan's userspace ESP, the
``kernel-libipsec`` plugin with a TUN device ``ipsec0``, carries the traffic, and connections
then force UDP encapsulation (``encap = yes``) because libipsec cannot take raw ESP. The choice
is detected, logged, and never a switch.
"""

from __future__ import annotations

import enum
import logging
import secrets
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

logger = logging.getLogger(__name__)

CHARON_BINARY = Path("/usr/lib/ipsec/charon")
LIBIPSEC_DEVICE = "ipsec0"

_BASE_PLUGINS = (
    "random nonce openssl pem pkcs1 pkcs8 x509 revocation constraints pubkey sha1 sha2 md5"
    " hmac gcm aes kdf curve25519 attr"
)
_TAIL_PLUGINS = "kernel-netlink socket-default vici updown eap-identity eap-mschapv2 counters"


class EspEngine(enum.Enum):
    """Who encrypts the packets: the kernel (XFRM) or charon in userspace (kernel-libipsec)."""

    KERNEL = "kernel"
    USERSPACE = "userspace"

    @property
    def encap(self) -> bool:
        """Userspace ESP only receives ESP inside UDP 4500."""
        return self is EspEngine.USERSPACE

    def tunnel_match(self) -> str:
        """The nftables expression that matches packets leaving a tunnel (decrypted)."""
        if self is EspEngine.USERSPACE:
            return f'iifname "{LIBIPSEC_DEVICE}"'
        return "meta ipsec exists"


def detect_esp_engine(wrap: Sequence[str] = ()) -> EspEngine:
    """Try to add (then delete) a kernel ESP state in this network namespace.

    A kernel without ESP answers "Requested type not found"; XFRM states are per namespace,
    so this touches nothing outside the one the gateway runs in (``wrap`` prefixes the
    command: tests run it in the gateway's namespace).
    """
    spi = "0x%08x" % (0x0F000000 | secrets.randbelow(0x00FFFFFF))
    key = "0x" + secrets.token_hex(20)
    selector = ["src", "192.0.2.254", "dst", "192.0.2.253", "proto", "esp", "spi", spi]
    add = [*wrap, "ip", "xfrm", "state", "add", *selector, "mode", "tunnel"]
    add += ["aead", "rfc4106(gcm(aes))", key, "128"]
    try:
        result = subprocess.run(add, capture_output=True, text=True, timeout=10, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        logger.warning("ESP engine: cannot run ip xfrm (%s); using userspace ESP", exc)
        return EspEngine.USERSPACE
    if result.returncode != 0:
        logger.info(
            "ESP engine: userspace (kernel-libipsec, UDP encapsulation); the kernel said: %s",
            result.stderr.strip() or result.returncode,
        )
        return EspEngine.USERSPACE
    subprocess.run(
        [*wrap, "ip", "xfrm", "state", "delete", *selector],
        capture_output=True,
        timeout=10,
        check=False,
    )
    logger.info("ESP engine: kernel (XFRM)")
    return EspEngine.KERNEL


@dataclass(frozen=True)
class CharonConfig:
    """What differs between charon instances: their directory and ESP engine."""

    directory: Path
    engine: EspEngine
    # A terminal has no pool to hand out but still installs the virtual address it receives.
    install_virtual_ip: bool = True
    debug: bool = False

    @property
    def conf_path(self) -> Path:
        return self.directory / "strongswan.conf"

    @property
    def vici_path(self) -> Path:
        return self.directory / "charon.vici"

    @property
    def log_path(self) -> Path:
        return self.directory / "charon.log"


def render_strongswan_conf(config: CharonConfig) -> str:
    """The whole ``strongswan.conf`` of one instance (no include of the system's)."""
    plugins = _BASE_PLUGINS
    if config.engine is EspEngine.USERSPACE:
        plugins += " kernel-libipsec"
    plugins += " " + _TAIL_PLUGINS
    level = 2 if config.debug else 1
    yes_no = "yes" if config.install_virtual_ip else "no"
    return f"""# Written by onshi for one charon instance; rewritten at every start.
charon {{
  load = {plugins}
  install_virtual_ip = {yes_no}
  # An idle CHILD_SA (inactivity) closes its whole IKE_SA: the terminal is logged out.
  inactivity_close_ike = yes
  # Take the terminal's order among the algorithms we accept: its key exchange is then the
  # group it already sent, instead of an INVALID_KE_PAYLOAD round trip for every login.
  prefer_configured_proposals = no
  # Many terminals at once: more worker threads, and half-open SAs do not block new ones.
  threads = 32
  init_limit_half_open = 1000
  plugins {{
    vici {{
      socket = unix://{config.vici_path}
    }}
    openssl {{
      # MD4 (EAP-MSCHAPv2's NT hash) lives in OpenSSL 3's legacy provider.
      load_legacy = yes
    }}
  }}
  filelog {{
    onshi {{
      path = {config.log_path}
      time_format = %Y-%m-%dT%H:%M:%S
      default = {level}
      ike_name = yes
    }}
  }}
  syslog {{
    daemon {{
      default = -1
    }}
  }}
}}
"""
