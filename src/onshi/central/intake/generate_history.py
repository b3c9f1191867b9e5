"""Drug history (薬剤情報), 診療情報, checkups (特定健診) and certificates for a synthetic population.

Written as JSON Lines at speed: the constant parts of each line are serialised once and spliced.
Institutions and treatments are drawn from a second generator derived from the first without
consuming it, so adding them changed no other draw of a seed (same persons, same drugs).
"""

from __future__ import annotations

import datetime as dt
import json
import random
from functools import cache
from typing import IO, Any

from onshi.central.intake.synthetic import GeneratedCounts, Row, add_years, fragment, yyyymmdd

DRUGS = (
    (
        "2149044F1027",
        "アムロジピン錠5mg「サワイ」",
        "アムロジピンベシル酸塩",
        "1",
        "錠",
        "1日1回朝食後",
        "28",
    ),
    (
        "2189017F1022",
        "ロスバスタチン錠2.5mg「DSEP」",
        "ロスバスタチンカルシウム",
        "1",
        "錠",
        "1日1回夕食後",
        "28",
    ),
    (
        "3969007F1023",
        "メトホルミン塩酸塩錠250mgMT「トーワ」",
        "メトホルミン塩酸塩",
        "2",
        "錠",
        "1日2回朝夕食後",
        "28",
    ),
    (
        "1149019F1560",
        "ロキソプロフェンNa錠60mg「サワイ」",
        "ロキソプロフェンナトリウム水和物",
        "3",
        "錠",
        "1日3回毎食後",
        "5",
    ),
    (
        "2325003F1024",
        "ファモチジン錠20mg「サワイ」",
        "ファモチジン",
        "2",
        "錠",
        "1日2回朝食後・就寝前",
        "14",
    ),
    (
        "6132005C1053",
        "セフカペンピボキシル塩酸塩細粒10%小児用「日医工」",
        "セフカペンピボキシル塩酸塩水和物",
        "0.9",
        "g",
        "1日3回毎食後",
        "5",
    ),
    (
        "4490025F1022",
        "フェキソフェナジン塩酸塩錠60mg「サワイ」",
        "フェキソフェナジン塩酸塩",
        "2",
        "錠",
        "1日2回朝夕食後",
        "14",
    ),
    (
        "2239001F1173",
        "カルボシステイン錠500mg「サワイ」",
        "L-カルボシステイン",
        "3",
        "錠",
        "1日3回毎食後",
        "7",
    ),
    (
        "1124017F1040",
        "ゾルピデム酒石酸塩錠5mg「サワイ」",
        "ゾルピデム酒石酸塩",
        "1",
        "錠",
        "1日1回就寝前",
        "14",
    ),
    (
        "2144012F1029",
        "カンデサルタン錠8mg「あすか」",
        "カンデサルタンシレキセチル",
        "1",
        "錠",
        "1日1回朝食後",
        "28",
    ),
    ("3399007H1021", "バイアスピリン錠100mg", "アスピリン", "1", "錠", "1日1回朝食後", "28"),
    (
        "2649843S2024",
        "ロキソプロフェンNaテープ100mg「ユートク」",
        "ロキソプロフェンナトリウム水和物",
        "14",
        "枚",
        "1日1回貼付",
        "1",
    ),
    ("1141007C1075", "カロナール細粒20%", "アセトアミノフェン", "1.5", "g", "疼痛時", "5"),
    (
        "6250021R1024",
        "オセルタミビルDS3%「サワイ」",
        "オセルタミビルリン酸塩",
        "2",
        "g",
        "1日2回朝夕食後",
        "5",
    ),
    (
        "3961008F1020",
        "グリメピリド錠1mg「サワイ」",
        "グリメピリド",
        "1",
        "錠",
        "1日1回朝食後",
        "28",
    ),
    (
        "2171014F1020",
        "ニフェジピンCR錠20mg「サワイ」",
        "ニフェジピン",
        "1",
        "錠",
        "1日1回朝食後",
        "28",
    ),
)

# (ItemCode (JLAC10), ItemName, DataType, Unit, value generator (mean, sd, decimals))
CHECKUP_ITEMS = (
    ("9N001000000000001", "身長", "PQ", "cm", (162.0, 9.0, 1)),
    ("9N006000000000001", "体重", "PQ", "kg", (62.0, 11.0, 1)),
    ("9N011000000000001", "BMI", "PQ", "kg/m2", (23.0, 3.5, 1)),
    ("9N016160100000001", "腹囲（実測）", "PQ", "cm", (84.0, 9.0, 1)),
    ("9A751000000000001", "収縮期血圧(その他)", "PQ", "mmHg", (128.0, 16.0, 0)),
    ("9A761000000000001", "拡張期血圧(その他)", "PQ", "mmHg", (78.0, 11.0, 0)),
    ("3F015000002327101", "空腹時中性脂肪(トリグリセリド)", "PQ", "mg/dL", (120.0, 60.0, 0)),
    ("3F070000002327101", "HDLコレステロール", "PQ", "mg/dL", (60.0, 14.0, 0)),
    ("3F077000002327101", "LDLコレステロール", "PQ", "mg/dL", (122.0, 30.0, 0)),
    ("3B035000002327201", "GOT(AST)", "PQ", "U/L", (23.0, 8.0, 0)),
    ("3B045000002327201", "GPT(ALT)", "PQ", "U/L", (22.0, 12.0, 0)),
    ("3B090000002327101", "γ-GT(γ-GTP)", "PQ", "U/L", (35.0, 25.0, 0)),
    ("3D046000001906202", "HbA1c(NGSP値)", "PQ", "%", (5.7, 0.5, 1)),
)
URINE_GLUCOSE = {
    "ItemCode": "1A020000000191111",
    "ItemName": "尿糖",
    "DataType": "CD",
    "Oid": "1.2.392.200119.6.2101",
}
URINE_GLUCOSE_VALUES = (("1", "－"), ("2", "±"), ("3", "＋"))

# Synthetic prescribing clinics (point table 1) and pharmacies (4): codes in no real prefecture
# block would do too, but these keep the shape (2 digits, point table, 7 digits) clients check.
CLINICS = (
    ("1319900011", "オンシ内科クリニック"),
    ("1319900029", "しんりょう整形外科"),
    ("1319900037", "みらい小児科医院"),
    ("1319900045", "あおば総合病院"),
)
PHARMACIES = (
    ("1349900016", "オンシ調剤薬局"),
    ("1349900024", "さくら薬局駅前店"),
)
# 診療情報 lines: (category, SinInfN, SinInfCd, MeTrIdCl 診療識別, Qua1, Times, Unit)
TREATMENTS = (
    (
        "diagnosis",
        "ＣＴ撮影（６４列以上のマルチスライス型の機器）",
        "170033410",
        "70",
        "1",
        "1",
        "回",
    ),
    ("diagnosis", "単純撮影（イ）の写真診断", "170000410", "70", "1", "1", "回"),
    ("diagnosis", "超音波検査（断層撮影法）（胸腹部）", "160072510", "60", "1", "1", "回"),
    ("diagnosis", "特定疾患療養管理料（診療所）", "113001810", "13", "1", "1", "回"),
    ("diagnosis", "在宅自己注射指導管理料（月２８回以下）", "114001110", "14", "1", "1", "回"),
    (
        "operation",
        "内視鏡的大腸ポリープ・粘膜切除術（長径２ｃｍ未満）",
        "150285010",
        "50",
        "1",
        "1",
        "回",
    ),
    ("operation", "白内障手術（眼内レンズを挿入）（その他）", "150263410", "50", "1", "1", "回"),
    (
        "operation",
        "皮膚、皮下腫瘍摘出術（露出部）（長径２ｃｍ未満）",
        "150003110",
        "50",
        "1",
        "1",
        "回",
    ),
)


class HistoryWriter:
    """Writes one person's history lines into the open files, drawing from the population's RNG."""

    def __init__(self, rng: random.Random, as_of: dt.date, counts: GeneratedCounts) -> None:
        self.rng = rng
        self.as_of = as_of
        self.counts = counts
        # Reading the state consumes nothing: same seed, same places, other draws unchanged.
        self.places = random.Random(repr(rng.getstate()[1][:8]))  # noqa: S311 - reproducible

    def _key(self, row: Row) -> dict[str, str]:
        return {
            "InsurerNumber": row.insurer.number,
            "InsuredCardSymbol": row.symbol,
            "InsuredIdentificationNumber": row.number,
            "InsuredBranchNumber": row.branch,
        }

    def _days_ago(self, recent: int, older: int, older_share: float) -> dt.date:
        rng = self.rng
        days = (
            rng.randrange(recent, older) if rng.random() < older_share else rng.randrange(1, recent)
        )
        return self.as_of - dt.timedelta(days=days)

    def _institution(self, clinic: tuple[str, str]) -> dict[str, str]:
        """Dispensed in house (DiOrg 1, InOut 1) or by a pharmacy (DiOrg 2, InOut 2)."""
        if self.places.random() < 0.25:
            return {
                "DiOrg": "1",
                "MeTrDiHCd": clinic[0],
                "MeTrDiHNm": clinic[1],
                "PrlsHCd": clinic[0],
                "PrlsHNm": clinic[1],
                "InOut": "1",
            }
        pharmacy = self.places.choice(PHARMACIES)
        return {
            "DiOrg": "2",
            "MeTrDiHCd": pharmacy[0],
            "MeTrDiHNm": pharmacy[1],
            "PrlsHCd": clinic[0],
            "PrlsHNm": clinic[1],
            "InOut": "2",
        }

    def _treatments(
        self, key: str, clinic: tuple[str, str], day: dt.date, files: dict[str, IO[str]]
    ) -> None:
        """Now and then a visit also has a treatment (診療情報), rarely an operation."""
        places = self.places
        if places.random() >= 0.3:
            return
        category, name, code, kind, quantity, times, unit = places.choice(
            TREATMENTS if places.random() < 0.2 else TREATMENTS[:5]
        )
        record = {
            "DiDate": yyyymmdd(day),
            "MeTrDiHCd": clinic[0],
            "MeTrDiHNm": clinic[1],
            "SinInfN": name,
            "SinInfCd": code,
            "MeTrIdCl": kind,
            "Qua1": quantity,
            "Times": times,
            "Unit": unit,
        }
        files[category].write(f"{{{key}, {fragment(record)}}}\n")
        setattr(self.counts, category, getattr(self.counts, category) + 1)

    def write(self, row: Row, files: dict[str, IO[str]]) -> None:
        rng, counts = self.rng, self.counts
        person = row.person
        key = fragment(self._key(row))
        if rng.random() < 0.25 + person.age / 250:
            for _ in range(rng.randint(1, 5)):
                day = self._days_ago(3 * 365, 5 * 365, 0.1)
                prescribed = day - dt.timedelta(days=rng.choice((0, 0, 0, 1, 2)))
                clinic = self.places.choice(CLINICS)
                where = self._institution(clinic)
                dates = fragment({"DiDate": yyyymmdd(day), "PrDate": yyyymmdd(prescribed)} | where)
                for drug in rng.sample(_drug_fragments(), rng.randint(1, 3)):
                    files["drug"].write(f"{{{key}, {dates}, {drug}}}\n")
                    counts.drug += 1
                if "diagnosis" in files:
                    self._treatments(key, clinic, prescribed, files)
        if 40 <= person.age < 75 and rng.random() < 0.4:
            for year in range(rng.randint(1, 3)):
                day = self._days_ago(365, 7 * 365, 0.1) - dt.timedelta(days=365 * year)
                when = yyyymmdd(day)
                for (mean, sd, decimals), item in _checkup_fragments():
                    value = round(max(0.0, rng.gauss(mean, sd)), decimals)
                    files["checkup"].write(
                        f'{{{key}, "EffectiveTime": "{when}", {item}, "DataValue": "{value:.{decimals}f}"}}\n'
                    )
                value_code, label = rng.choices(URINE_GLUCOSE_VALUES, (0.9, 0.06, 0.04))[0]
                record = URINE_GLUCOSE | {
                    "EffectiveTime": when,
                    "DataValue": value_code,
                    "DataValueName": label,
                }
                files["checkup"].write(f"{{{key}, {fragment(record)}}}\n")
                counts.checkup += 1 + len(CHECKUP_ITEMS)
        if rng.random() < 0.02:
            start = self._days_ago(330, 700, 0.2).replace(day=1)
            flag = (
                rng.choice(("B01", "B02", "B03", "B05", "B06"))
                if person.age >= 70
                else rng.choice(("A01", "A02", "A03", "A04", "A05"))
            )
            record = {
                "LimitApplicationCertificateClassification": "02"
                if flag in {"A05", "B05", "B06"}
                else "01",
                "LimitApplicationCertificateClassificationFlag": flag,
                "LimitApplicationCertificateDate": yyyymmdd(start),
                "LimitApplicationCertificateValidStartDate": yyyymmdd(start),
                "LimitApplicationCertificateValidEndDate": yyyymmdd(
                    add_years(start, 1) - dt.timedelta(days=1)
                ),
            }
            files["limit"].write(f"{{{key}, {fragment(record)}}}\n")
            counts.limit += 1
        if rng.random() < 0.003:
            start = self._days_ago(365, 3000, 0.5)
            disease: dict[str, Any] = {
                "SpecificDiseasesDiseaseCategory": rng.choices("123", (0.9, 0.08, 0.02))[0],
                "SpecificDiseasesCertificateDate": yyyymmdd(start),
                "SpecificDiseasesValidStartDate": yyyymmdd(start),
                "SpecificDiseasesSelfPay": 20000
                if person.age < 70 and rng.random() < 0.2
                else 10000,
            }
            files["specific-disease"].write(
                f"{{{key}, {json.dumps(disease, ensure_ascii=False)[1:-1]}}}\n"
            )
            counts.specific_disease += 1


@cache
def _drug_fragments() -> list[str]:
    names_ = ("DrugC", "DrugN", "IngreN", "Qua1", "Unit", "UsageN", "Times")
    return [fragment(dict(zip(names_, drug, strict=True))) for drug in DRUGS]


@cache
def _checkup_fragments() -> list[tuple[tuple[float, float, int], str]]:
    return [
        (shape, fragment({"ItemCode": c, "ItemName": n, "DataType": k, "Unit": u}))
        for c, n, k, u, shape in CHECKUP_ITEMS
    ]


HISTORY_FILES = ("drug", "checkup", "limit", "specific-disease", "diagnosis", "operation")
