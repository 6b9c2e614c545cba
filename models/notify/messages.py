"""Message templates for alerts and escort tasks, in zh-CN and en.

Templates take only masked or non-personal values (convoy codes, places, counts, seat numbers,
masked names and phones). ``render`` refuses a template that lacks a value, so a message never
goes out with a hole in it.
"""

from __future__ import annotations

import string
from dataclasses import dataclass
from typing import Any

from models.errors import ConfigurationError

LOCALES = ("zh-CN", "en")


@dataclass(frozen=True)
class Message:
    subject: str
    body: str


TEMPLATES: dict[str, dict[str, tuple[str, str]]] = {
    # -- alerts ---------------------------------------------------------------------------------
    "alert.late_departure": {
        "zh-CN": (
            "【延误】{code} 未按时出发",
            "{code}（{mode_label}）计划 {planned} 从{origin}出发，现已晚 {minutes} 分钟，"
            "尚未报告出发。请护送民警核实情况。",
        ),
        "en": (
            "[Delay] {code} has not departed",
            "{code} ({mode_label}) was due to leave {origin} at {planned}; it is {minutes} min "
            "late and no departure has been reported. Escorts: please check.",
        ),
    },
    "alert.late_arrival": {
        "zh-CN": (
            "【延误】{code} 预计晚到 {minutes} 分钟",
            "{code} 预计 {eta} 到达{destination}（计划 {planned}），晚 {minutes} 分钟；"
            "剩余约 {remaining_km} 公里。",
        ),
        "en": (
            "[Delay] {code} expected {minutes} min late",
            "{code} is expected at {destination} at {eta} (planned {planned}), {minutes} min "
            "late; about {remaining_km} km to go.",
        ),
    },
    "alert.stale_position": {
        "zh-CN": (
            "【失联】{code} 已 {minutes} 分钟无位置",
            "{code} 最后位置时间 {last}，已 {minutes} 分钟未收到新位置。请联系护送民警。",
        ),
        "en": (
            "[No position] {code} silent for {minutes} min",
            "The last position of {code} was at {last}; nothing for {minutes} min. "
            "Please call the escorts.",
        ),
    },
    "alert.off_route": {
        "zh-CN": (
            "【偏航】{code} 偏离计划路线 {distance_km} 公里",
            "{code} 于 {last} 偏离计划路线 {distance_km} 公里（允许 {corridor_km} 公里），"
            "位置 {lat},{lon}。",
        ),
        "en": (
            "[Off route] {code} is {distance_km} km off the planned route",
            "At {last} {code} was {distance_km} km from the planned route (corridor "
            "{corridor_km} km), at {lat},{lon}.",
        ),
    },
    "alert.stopped": {
        "zh-CN": (
            "【停留】{code} 已停留 {minutes} 分钟",
            "{code} 自 {since} 起在 {lat},{lon} 附近停留 {minutes} 分钟，距目的地约 "
            "{remaining_km} 公里。",
        ),
        "en": (
            "[Stopped] {code} has not moved for {minutes} min",
            "{code} has been near {lat},{lon} since {since} ({minutes} min), about "
            "{remaining_km} km from the destination.",
        ),
    },
    "alert.escalated": {
        "zh-CN": (
            "【升级】{code} 告警 #{alert_id} 无人确认",
            "告警 #{alert_id}（{kind_label}）自 {opened} 起 {minutes} 分钟无人确认，现上报指挥员。"
            "\n{summary}\n确认：convoy alerts ack {alert_id}",
        ),
        "en": (
            "[Escalated] {code} alert #{alert_id} not acknowledged",
            "Alert #{alert_id} ({kind_label}) has been open since {opened}, {minutes} min "
            "without acknowledgement.\n{summary}\nAcknowledge: convoy alerts ack {alert_id}",
        ),
    },
    "alert.resolved": {
        "zh-CN": (
            "【解除】{code} 告警 #{alert_id} 已解除",
            "告警 #{alert_id}（{kind_label}）已于 {at} 解除：{reason}",
        ),
        "en": (
            "[Resolved] {code} alert #{alert_id}",
            "Alert #{alert_id} ({kind_label}) was resolved at {at}: {reason}",
        ),
    },
    # -- escort tasks ---------------------------------------------------------------------------
    "task.muster": {
        "zh-CN": (
            "【任务】{code} 始发地集结 {when}",
            "请于 {when} 在{where}组织 {count} 名返岗人员集结点名。",
        ),
        "en": (
            "[Task] {code}: muster at {when}",
            "Muster the {count} workers at {where} at {when} and take the roll.",
        ),
    },
    "task.screening": {
        "zh-CN": (
            "【任务】{code} 出发前健康筛查 {when}",
            "请于 {when} 在{where}对 {count} 名人员进行出发前健康筛查（体温、核酸、健康码）。",
        ),
        "en": (
            "[Task] {code}: pre-departure screening at {when}",
            "Pre-departure screening of {count} workers at {where} at {when} "
            "(temperature, nucleic-acid test, health code).",
        ),
    },
    "task.depart": {
        "zh-CN": (
            "【任务】{code} {when} 出发",
            "筛查通过 {count} 人，{held} 人留置。请于 {when} 从{where}出发，并开启定位。",
        ),
        "en": (
            "[Task] {code}: depart at {when}",
            "{count} workers cleared, {held} held. Depart from {where} at {when} and keep the "
            "tracker on.",
        ),
    },
    "task.entry_missing": {
        "zh-CN": (
            "【任务】{code} 仍有 {count} 人未完成入甬申请",
            "以下 {count} 名乘客仍未完成入甬申请及健康码申领，请途中指导完成：\n{people}",
        ),
        "en": (
            "[Task] {code}: {count} passengers still lack an entry application",
            "These {count} passengers have not yet applied to enter the city (health code); "
            "please guide them during the trip:\n{people}",
        ),
    },
    "task.spot_check": {
        "zh-CN": (
            "【任务】{code} 到达抽检",
            "已到达{where}（{when}），请对 {count} 名人员进行抽检。",
        ),
        "en": (
            "[Task] {code}: spot checks on arrival",
            "Arrived at {where} ({when}); spot-check {count} workers.",
        ),
    },
    "task.handoff": {
        "zh-CN": (
            "【任务】{code} 交接 {count} 名员工给{enterprise}",
            "请将 {count} 名员工交接给{enterprise}，地点：{where}，接收人：{contact} {phone}。",
        ),
        "en": (
            "[Task] {code}: hand {count} workers to {enterprise}",
            "Hand {count} workers to {enterprise} at {where}; received by {contact} {phone}.",
        ),
    },
    "notice.enterprise_arrival": {
        "zh-CN": (
            "【通知】{code} 已到达，请接收 {count} 名员工",
            "{code} 已于 {when} 到达{destination}。请安排人员到{where}接收 {count} 名员工。",
        ),
        "en": (
            "[Notice] {code} has arrived: {count} workers for you",
            "{code} arrived at {destination} at {when}. Please receive your {count} workers "
            "at {where}.",
        ),
    },
}

KIND_LABELS: dict[str, dict[str, str]] = {
    "zh-CN": {
        "late_departure": "未按时出发",
        "late_arrival": "预计晚到",
        "stale_position": "位置中断",
        "off_route": "偏离路线",
        "stopped": "长时间停留",
    },
    "en": {
        "late_departure": "late departure",
        "late_arrival": "late arrival",
        "stale_position": "no position",
        "off_route": "off route",
        "stopped": "stopped",
    },
}

MODE_LABELS = {
    "zh-CN": {"bus": "专车", "train": "专列", "flight": "包机"},
    "en": {"bus": "bus", "train": "train", "flight": "flight"},
}


def _locale(locale: str) -> str:
    return locale if locale in LOCALES else "en"


def kind_label(kind: str, locale: str) -> str:
    return KIND_LABELS[_locale(locale)].get(kind, kind)


def render(key: str, locale: str, **params: Any) -> Message:
    """The message ``key`` in ``locale`` (falls back to en) with ``params`` filled in."""
    try:
        subject, body = TEMPLATES[key][_locale(locale)]
    except KeyError:
        raise ConfigurationError(f"There is no message template {key!r}.") from None
    needed = {
        name for text in (subject, body) for _, name, _, _ in string.Formatter().parse(text) if name
    }
    missing = sorted(needed - params.keys())
    if missing:
        raise ConfigurationError(
            f"The message {key!r} needs {', '.join(missing)}; the caller did not give it."
        )
    return Message(subject.format(**params), body.format(**params))
