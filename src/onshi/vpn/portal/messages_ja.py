"""Every code the portal may show, as a sentence for clinic staff or operators (Japanese).

Login refusals never say whether the ID exists: a wrong ID and a wrong password read the same.
"""

from __future__ import annotations

LOGIN_FAILED = "IDまたはパスワードが正しくありません。"
LOGIN_LOCKED = (
    "ログインの失敗が続いたため、しばらくログインできません。"
    "時間をおいてから再度お試しいただくか、サポートデスクにお問い合わせください。"
)
SESSION_EXPIRED = "一定時間操作がなかったため、ログアウトしました。もう一度ログインしてください。"
LOGGED_OUT = "ログアウトしました。"
LOGIN_REQUIRED = "ログインしてください。"
DEVICE_NAME_RULE = (
    "端末名は半角の英数字・「-」・「_」で1～32文字で入力してください（例: reception-pc）。"
)

MESSAGES: dict[str, str] = {
    "VPN_PORTAL_CSRF": (
        "この操作は受け付けられませんでした（画面の有効期限切れ、または不正な送信です）。"
        "画面を開き直してから、もう一度操作してください。"
    ),
    "VPN_PORTAL_FORBIDDEN": "閲覧専用の権限（監査者）では、この操作はできません。",
    "VPN_PORTAL_DOWNLOAD_GONE": (
        "この証明書ファイルはダウンロード済みか、有効期限が切れています。"
        "秘密鍵は保管していないため再ダウンロードはできません。証明書を発行し直してください。"
    ),
    "VPN_PORTAL_NOT_FOUND": "指定されたものが見つかりません。",
    "VPN_PORTAL_NOT_CONFIRMED": (
        "取り消せない操作のため、「確定」にチェックを入れてから実行してください。"
    ),
    "VPN_INVALID_INPUT": "入力内容に誤りがあります。",
    "VPN_LOGIN_FAILED": LOGIN_FAILED,
    "VPN_ACCOUNT_LOCKED": LOGIN_LOCKED,
    "VPN_PASSWORD_WRONG": "現在のパスワードが正しくありません。",
    "VPN_WRONG_PASSWORD": "現在のパスワードが正しくありません。",
    "VPN_PASSWORD_MISMATCH": "新しいパスワード（確認）が一致しません。",
    "VPN_WEAK_PASSWORD": (
        "新しいパスワードが条件を満たしていません。下の条件を確認して入力し直してください。"
    ),
    "VPN_DEVICE_LIMIT": (
        "このIDで利用できる端末の数（証明書の枚数）の上限に達しています。"
        "使わなくなった端末の証明書を失効させるか、追加証明書をお申し込みください。"
    ),
    "VPN_DEVICE_EXISTS": "同じ端末名の有効な証明書がすでにあります。別の端末名を入力してください。",
    "VPN_APPLICATION_CLOSED": "この申請は解約済みのため、操作できません。",
    "VPN_ILLEGAL_TRANSITION": "現在の状態からは、その状態に進めることはできません。",
    "VPN_CERTIFICATE_REVOKED": "この証明書はすでに失効しています。",
    "VPN_CERTIFICATE_EXPIRED": "この証明書は有効期限が切れています。",
    "VPN_NOT_PERMITTED": "この操作を行う権限がありません。",
    "VPN_NOT_FOUND": "指定されたものが見つかりません。",
    "VPN_UNKNOWN_APPLICATION": "指定された申請が見つかりません。",
    "VPN_UNKNOWN_CERTIFICATE": "指定された証明書が見つかりません。",
    "VPN_UNKNOWN_SESSION": "指定された接続が見つかりません。",
    "VPN_UNKNOWN_ACCOUNT": "指定されたIDが見つかりません。",
    "VPN_ACCOUNT_NOT_OPEN": "このIDはまだ開通していないため、証明書を発行できません。",
}

FALLBACK = (
    "処理できませんでした。時間をおいて再度お試しいただくか、サポートデスクにお問い合わせください。"
)


def message_for(code: str, detail: str | None = None) -> str:
    """The sentence for ``code``; the service's own message when it is already Japanese."""
    if code in MESSAGES:
        return MESSAGES[code]
    if detail and any("\u3040" <= ch <= "\u30ff" or "\u4e00" <= ch <= "\u9fff" for ch in detail):
        return detail
    return FALLBACK


STATE_LABELS: dict[str, str] = {
    "submitted": "申請受付",
    "reviewed": "内容確認済み",
    "configured": "ネットワーク設定済み",
    "network_configured": "ネットワーク設定済み",
    "opened": "開通済み",
    "cancelled": "解約",
}

ACTION_LABELS: dict[str, str] = {
    "reviewed": "内容確認（承認）",
    "configured": "ネットワーク設定完了",
    "network_configured": "ネットワーク設定完了",
    "opened": "開通通知",
    "cancelled": "解約",
}


def state_label(state: str) -> str:
    return STATE_LABELS.get(state, state)


def action_label(state: str) -> str:
    return ACTION_LABELS.get(state, state)


DEVICE_STATUS_LABELS: dict[str, str] = {
    "valid": "有効",
    "revoked": "失効",
    "superseded": "失効（更新済み）",
    "expired": "期限切れ",
}


def device_status_label(status: str) -> str:
    return DEVICE_STATUS_LABELS.get(status, status)
