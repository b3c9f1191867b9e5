"""Client profiles offered for download, rendered by :mod:`onshi.vpn.client.profiles`.

The portal only gathers the values (account, device, the device certificate, the service CA,
the gateway) and names the formats in Japanese; the files themselves are the client module's.
No password and no private key is ever part of a profile.
"""

from __future__ import annotations

from onshi.vpn.client import profiles as client_profiles
from onshi.vpn.portal.backend import ProfileMaterial

KINDS: dict[str, str] = {
    "windows": "Windows 10/11 用 セットアップスクリプト（PowerShell、strongSwan for Windows 用）",
    "swanctl": "strongSwan 設定ファイル（swanctl.conf、Linux 端末など）",
    "sswan": "Android 用 strongSwan プロファイル（.sswan）",
}

# What Windows users run, said once for the setup and support pages.
WINDOWS_GUIDE: tuple[str, ...] = (
    "本サービスは「端末の証明書」と「ID・パスワード」の2段階で認証します。"
    "Windows 標準の VPN クライアント（IKEv2）はこの2段階の認証ができないため使用できません。",
    "Windows 10/11 では strongSwan for Windows（charon-svc と swanctl）を使用します。"
    "先に strongSwan for Windows をインストールしてください（管理者権限が必要です）。",
    "証明書（.p12）と、下の「Windows 用 セットアップスクリプト」をダウンロードし、"
    "PowerShell を「管理者として実行」して、"
    "「.\\onshi-<ID>-<端末名>.ps1 -P12Path <証明書ファイル> -Connect」を実行してください。",
    "スクリプトは証明書のパスフレーズと ID のパスワードを尋ねます。"
    "パスワードはファイルに保存されません。",
)


def render(kind: str, material: ProfileMaterial) -> client_profiles.RenderedProfile:
    profile = client_profiles.profile_for(
        account=material.account,
        device=material.device_name,
        gateway_host=material.gateway_host,
        gateway_id=material.gateway_id,
        ca_pem=material.ca_pem.encode(),
        service_subnets=material.service_subnets,
        device_cert_pem=material.device_cert_pem.encode() if material.device_cert_pem else None,
    )
    return client_profiles.render(profile, kind)
