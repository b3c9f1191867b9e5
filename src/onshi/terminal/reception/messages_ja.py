"""Every error code the reception screen can show, as a plain Japanese sentence for staff.

One place, so the same code always reads the same way, whether it came from the central
service, the terminal, the card reader or the manual-entry form. Unknown codes still get a
sentence (with the code, for the help desk); the English technical message is never shown.
"""

from __future__ import annotations

from collections.abc import Mapping

MESSAGES: Mapping[str, str] = {
    # the central service
    "REQUEST_INVALID": "入力内容に誤りがあります。保険者番号・記号・番号・生年月日を確認してください。",
    "REQUEST_TOO_LARGE": "一度に照会できる件数を超えています。分けて照会してください。",
    "PERSON_NOT_FOUND": "該当する被保険者が見つかりません。保険者番号・記号・番号・枝番を確認してください。",
    "FACILITY_NOT_AUTHORISED": "この医療機関は資格確認の利用登録がされていません。管理者に連絡してください。",
    "CARD_UNKNOWN": "このカードは読み取れませんでした（正規のマイナンバーカードではない可能性があります）。",
    "CARD_NOT_LINKED": "このマイナンバーカードは健康保険証としての利用登録がされていません。保険証または資格確認書で確認してください。",
    "CARD_EXPIRED": "カードの電子証明書の有効期限が切れています。市区町村の窓口で更新するよう案内してください。",
    "CARD_REVOKED": "このカードの電子証明書は失効しています（紛失・一時停止など）。保険証または資格確認書で確認してください。",
    "CARD_SIGNATURE_INVALID": "カードの確認に失敗しました。もう一度カードをかざしてください。",
    "NONCE_INVALID": "確認の有効時間が過ぎました。もう一度カードをかざしてください。",
    "CONSENT_REQUIRED": "患者さんの同意が確認できません。カードリーダーで情報提供に同意してもらってください。",
    "FACILITY_KIND_REFUSED": "この情報は薬局からは照会できません。",
    "RECEPTION_NOT_FOUND": "この受付番号の一括照会は見つかりません。",
    "CENTRAL_ERROR": "資格確認サービスでエラーが発生しました。しばらくしてからもう一度お試しください。",
    "CENTRAL_UNAVAILABLE": "資格確認サービスに接続できません。回線を確認し、しばらくしてからもう一度お試しください。",
    # a 503 reaches the terminal as CENTRAL_UNAVAILABLE (the agent asks again); said anyway
    "DATABASE_UNAVAILABLE": "資格確認サービスが一時的に利用できません。しばらくしてからもう一度お試しください。",
    # the terminal
    "TERMINAL_UNAVAILABLE": "資格確認端末に接続できません。端末が起動しているか確認してください。",
    "TERMINAL_INTERNAL_ERROR": "資格確認端末でエラーが発生しました。管理者に連絡してください。",
    "TERMINAL_ERROR": "資格確認端末でエラーが発生しました。管理者に連絡してください。",
    "FACE_FILE_FAILED": "結果ファイルを保存できませんでした。共有フォルダを確認してください。",
    "TERMINAL_UNSAFE_NAME": "依頼ファイルの名前に使えない文字が含まれています。レセコンの設定を確認してください。",
    "TERMINAL_SYMLINK": "依頼ファイルがショートカット（シンボリックリンク）のため処理しませんでした。",
    "TERMINAL_NOT_A_FILE": "要求フォルダに依頼ファイルではないもの（フォルダなど）が置かれました。",
    "TERMINAL_STILL_WRITING": "依頼ファイルの書き込みが終わらないため、その時点の内容で処理しました。",
    "TERMINAL_UNREADABLE": "依頼ファイルを開けませんでした。共有フォルダの権限を確認してください。",
    # request files from the billing software (answered with an .err file)
    "OQS_ERROR": "レセコンからの依頼ファイルを処理できませんでした。レセコンの設定を確認してください。",
    "OQS_UNKNOWN_MESSAGE": "依頼ファイルの名前が資格確認の形式ではありません。レセコンの設定を確認してください。",
    "OQS_UNSAFE_XML": "依頼ファイルに安全でない内容が含まれていたため処理しませんでした。",
    "OQS_TOO_LARGE": "依頼ファイルが大きすぎます。分けて送ってください。",
    "OQS_TOO_DEEP": "依頼ファイルの形式が正しくありません。",
    "OQS_FORBIDDEN_XML": "依頼ファイルに安全でない内容が含まれていたため処理しませんでした。",
    "OQS_MALFORMED_XML": "依頼ファイルの形式が壊れています（XML・文字コードの誤り）。",
    "OQS_ENCODING": "依頼ファイルの文字コードが UTF-8 または Shift_JIS ではありません。",
    "OQS_WRONG_ROOT": "依頼ファイルの形式が正しくありません。",
    "OQS_SCHEMA": "依頼ファイルに必要な項目がないか、余分な項目があります。",
    "OQS_INVALID_VALUE": "依頼ファイルの項目の値（桁数・日付など）に誤りがあります。",
    "OQS_TOO_MANY_RECORDS": "一括照会の件数が上限を超えています。分けて送ってください。",
    "OQS_UNSUPPORTED": "この依頼には対応していません。",
    "OQS_RENDER": "結果ファイルを作成できませんでした。管理者に連絡してください。",
    "OQS_WRONG_FACILITY": "依頼ファイルの医療機関コードがこの端末のものと違います。レセコンの設定を確認してください。",
    # the card reader
    "CARD_LOCKED": "暗証番号を3回続けて間違えたため、カードがロックされています。市区町村の窓口でロックを解除してください。",
    "PIN_INCORRECT": "暗証番号が違います。",
    "PIN_FORMAT_INVALID": "暗証番号は4桁の数字で入力してください。",
    "PIN_REQUIRED": "暗証番号（4桁）を入力してください。",
    "FACE_NOT_RECOGNISED": "顔認証できませんでした。目視確認または暗証番号に切り替えてください",
    "CARD_FILE_INVALID": "カードを読み取れませんでした。カードをかざし直してください。",
    "CARD_NOT_FOUND": "選択したカードが見つかりません。一覧を更新してください。",
    "READER_ERROR": "カードリーダーでエラーが発生しました。",
    # the manual-entry form
    "INSURER_NUMBER_INVALID": "保険者番号は6桁または8桁の数字で入力してください。",
    "SYMBOL_INVALID": "記号は38文字以内で入力してください。",
    "NUMBER_INVALID": "番号を入力してください（38文字以内）。",
    "BRANCH_INVALID": "枝番は2桁の数字で入力してください（ない場合は空欄）。",
    "BIRTHDATE_INVALID": "生年月日は「19800401」または「1980-04-01」の形で、正しい日付を入力してください。",
    "DATE_INVALID": "確認日は「20261123」または「2026-11-23」の形で、正しい日付を入力してください。",
    "FORBIDDEN_ORIGIN": "この画面からの操作ではないため受け付けませんでした。",
    # PDF reports
    "REPORT_NOT_FOUND": "この帳票のリンクは有効期限が切れています。もう一度カードで確認してください。",
    "REPORT_FONT_MISSING": "帳票用の日本語フォントがありません。管理者に連絡してください（fonts-ipaexfont-gothic）。",
    "REPORT_ANSWER_INVALID": "資格確認サービスの応答から帳票を作成できませんでした。管理者に連絡してください。",
    "REPORT_ERROR": "帳票を作成できませんでした。管理者に連絡してください。",
}

VALIDITY: Mapping[str, str] = {
    "1": "有効",
    "2": "無効",
    "3": "無効（新しい資格あり）",
    "4": "該当資格なし",
    "5": "複数該当",
}


def message_for(code: str) -> str:
    """The sentence for ``code``; unknown codes are named so the help desk can look them up."""
    return (
        MESSAGES.get(code) or f"エラーが発生しました（コード: {code}）。管理者に連絡してください。"
    )


def validity_label(value: object) -> str:
    return VALIDITY.get(str(value), "不明")


def contribution_label(ratio: object) -> str:
    """InsuredPartialContributionRatio ("030") as staff say it (3割)."""
    text = str(ratio or "")
    if not text.isdigit():
        return ""
    percent = int(text)
    return f"{percent // 10}割" if percent % 10 == 0 else f"{percent}%"
