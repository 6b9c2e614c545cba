"""One home for the texts people read, in zh-CN and en: labels and translations by domain.

Each domain is one table, ``{locale: {key: text}}``, holding every locale: ``MAPS`` (legends,
popups and panels of the maps), ``STAGES`` (convoy stage names), ``MODES``, ``ALERT_KINDS``,
``COLUMNS`` (manifest columns);
``MESSAGES`` holds the notification templates (subject and body). :func:`label` looks a key
up in a locale, falling back to English and then to the key itself, and fills in
``{placeholders}``; :func:`local_time` writes a time as people read it.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    from config import Settings

__all__ = [
    "ALERT_KINDS", "COLUMNS", "DOMAINS", "FALLBACK", "LOCALES", "MAPS", "MESSAGES", "MODES",
    "REPORT", "STAGES", "Locale", "is_locale", "label", "labels", "local_time",
]  # fmt: skip

Locale = Literal["zh-CN", "en"]
LOCALES: tuple[Locale, ...] = ("zh-CN", "en")
FALLBACK: Locale = "en"
"""The locale used for a key a table lacks in the requested one."""

# --------------------------------------------------------------------------- maps

MAPS: dict[str, dict[str, str]] = {
    "zh-CN": {
        "status.planned": "准备中（始发地）",
        "status.under_way": "途中",
        "status.arrived": "已到达",
        "status.done": "已交接/结束",
        "status.done_late": "已结束·晚到",
        "status.delayed": "延误",
        "status.alert": "告警",
        "mode.train": "专列",
        "mode.flight": "包机",
        "mode.bus": "专车",
        "cp.muster": "集结点",
        "cp.screening": "出发前筛查",
        "cp.arrival": "到达点",
        "cp.arrival_screening": "到达抽检",
        "cp.handoff": "企业交接点",
        "origin": "始发地",
        "destination": "目的地",
        "waypoint": "途经点",
        "planned_route": "计划路线",
        "track": "实际轨迹",
        "current": "当前位置",
        "alerts": "未处理告警",
        "checkpoints": "检查点",
        "playback": "轨迹回放",
        "legend": "图例",
        "passengers": "人员",
        "total": "名单人数",
        "boarded": "已上车",
        "arrived": "已到达",
        "handed_off": "已交接",
        "held": "留观/扣留",
        "withdrawn": "退出",
        "in_custody": "看护中",
        "in_custody.origin": "始发地看护",
        "in_custody.en_route": "在途看护",
        "in_custody.destination": "到达待交接",
        "expected": "名单人数",
        "stage": "阶段",
        "vehicle": "车次/航班/车牌",
        "vehicle.train": "车次",
        "vehicle.flight": "航班",
        "vehicle.bus": "车牌",
        "planned_departure": "计划出发",
        "planned_arrival": "计划到达",
        "actual_departure": "实际出发",
        "actual_arrival": "实际到达",
        "eta": "预计到达",
        "late": "晚 {m} 分钟",
        "late_by": "晚 {d}",
        "arrived_at": "实际到达 {at}",
        "minutes": "{m} 分钟",
        "late_rule": "晚到：比计划到达晚 {m} 分钟以上（结束后仍标为晚到）",
        "late_rule_modes": "晚到：比计划到达晚于阈值（{rules}），结束后仍标为晚到",
        "early": "早 {m} 分钟",
        "early_by": "早 {d}",
        "remaining": "剩余约 {km} 公里",
        "escorts": "护送民警",
        "done": "已完成",
        "pending": "未完成",
        "approximate": "无企业坐标，标在目的地附近",
        "last_fix": "最后定位",
        "convoys": "趟次",
        "convoys_by_stage": "各阶段趟次",
        "enterprises": "企业交接点",
        "summary": "汇总",
        "open_alerts": "未处理告警",
        "none": "无",
        "campaign": "行动",
        "site": "工地",
        "entrance": "出入口",
        "permit_route": "通行路线",
        "start": "起点",
        "count_unit": "人",
        "convoy_unit": "趟",
        "scale_note": "坐标：WGS-84",
        "scale_note_gcj": "坐标：GCJ-02（显示用）",
        "basemap.province": "底图：省级行政区",
        "basemap.city": "底图：地级行政区",
        "basemap.district": "底图：县级行政区",
        "dur.min": "{m} 分钟",
        "dur.h": "{h} 小时",
        "dur.h_min": "{h} 小时 {m} 分钟",
        "dur.d": "{d} 天",
        "dur.d_h": "{d} 天 {h} 小时",
        "ctl.zoom_in": "放大",
        "ctl.zoom_out": "缩小",
        "ctl.fullscreen": "全屏显示",
        "ctl.fullscreen_exit": "退出全屏",
        "ctl.layers": "图层",
        "ctl.expand": "展开",
        "alert.off_route": "偏离路线",
        "alert.stopped": "长时间停留",
        "alert.stale_position": "位置中断",
        "alert.late_departure": "晚发",
        "alert.late_arrival": "预计晚到",
        "alert_open": "未处理",
        "alert_resolved": "已解除",
        "long_stop": "停留",
        "corridor": "监控走廊（路线两侧各 {km} 公里，超出即告警）",
        "events": "告警与停留",
        "event_place": "告警发生位置（红：未处理，浅红：已解除）",
        "stop_place": "长时间停留（{d}以上）",
        "missing_asset": "地图缺少文件 {file}：请把地图与同一目录下的 assets 文件夹一起复制，"
        "或用 convoy map --inline 生成单个文件。",
        "missing_assets": "地图缺少 {file} 等 {n} 个文件：请把地图与同一目录下的 assets 文件夹"
        "一起复制，或用 convoy map --inline 生成单个文件。",
        "map_link": "打开 {code} 的路线图",
        "more_alerts": "还有 {n} 条（点击展开）",
        "ctl.collapse": "收起",
        "ctl.leaflet": "Leaflet 开源地图库",
        "replay": "回放",
        "replay.play": "播放回放",
        "replay.pause": "暂停回放",
        "replay.back": "后退一步",
        "replay.forward": "前进一步",
        "replay.slider": "拖动选择回放时刻",
        "replay.clock": "回放时刻（{zone}）",
        "replay.speed": "回放速度",
        "zone.Asia/Shanghai": "北京时间",
    },
    "en": {
        "status.planned": "preparing (at origin)",
        "status.under_way": "under way",
        "status.arrived": "arrived",
        "status.done": "handed off / closed",
        "status.done_late": "closed, arrived late",
        "status.delayed": "delayed",
        "status.alert": "alert",
        "mode.train": "train",
        "mode.flight": "flight",
        "mode.bus": "bus",
        "cp.muster": "muster point",
        "cp.screening": "screening before departure",
        "cp.arrival": "arrival point",
        "cp.arrival_screening": "spot check on arrival",
        "cp.handoff": "handoff to enterprise",
        "origin": "origin",
        "destination": "destination",
        "waypoint": "waypoint",
        "planned_route": "planned route",
        "track": "actual track",
        "current": "current position",
        "alerts": "open alerts",
        "checkpoints": "checkpoints",
        "playback": "track playback",
        "legend": "Legend",
        "passengers": "passengers",
        "total": "on manifest",
        "boarded": "boarded",
        "arrived": "arrived",
        "handed_off": "handed off",
        "held": "held",
        "withdrawn": "withdrawn",
        "in_custody": "in custody",
        "in_custody.origin": "in custody at the origin",
        "in_custody.en_route": "in custody en route",
        "in_custody.destination": "in custody, awaiting handoff",
        "expected": "on manifest",
        "stage": "stage",
        "vehicle": "vehicle",
        "vehicle.train": "train number",
        "vehicle.flight": "flight number",
        "vehicle.bus": "plate",
        "planned_departure": "planned departure",
        "planned_arrival": "planned arrival",
        "actual_departure": "actual departure",
        "actual_arrival": "actual arrival",
        "eta": "ETA",
        "late": "{m} min late",
        "late_by": "{d} late",
        "arrived_at": "arrived {at}",
        "minutes": "{m} min",
        "late_rule": "late: more than {m} min after the planned arrival (kept after closing)",
        "late_rule_modes": "late: later than the threshold ({rules}); kept after closing",
        "early": "{m} min early",
        "early_by": "{d} early",
        "remaining": "about {km} km to go",
        "escorts": "escorts",
        "done": "done",
        "pending": "not yet",
        "approximate": "no coordinates for this enterprise: drawn near the destination",
        "last_fix": "last position",
        "convoys": "convoys",
        "convoys_by_stage": "convoys by stage",
        "enterprises": "handoff points",
        "summary": "Summary",
        "open_alerts": "open alerts",
        "none": "none",
        "campaign": "campaign",
        "site": "site",
        "entrance": "entrance",
        "permit_route": "permitted route",
        "start": "start",
        "count_unit": "",
        "convoy_unit": "",
        "scale_note": "coordinates: WGS-84",
        "scale_note_gcj": "coordinates: GCJ-02 (display)",
        "basemap.province": "Basemap: provinces",
        "basemap.city": "Basemap: prefectures",
        "basemap.district": "Basemap: counties",
        "dur.min": "{m} min",
        "dur.h": "{h} h",
        "dur.h_min": "{h} h {m} min",
        "dur.d": "{d} d",
        "dur.d_h": "{d} d {h} h",
        "ctl.zoom_in": "Zoom in",
        "ctl.zoom_out": "Zoom out",
        "ctl.fullscreen": "Full screen",
        "ctl.fullscreen_exit": "Exit full screen",
        "ctl.layers": "Layers",
        "ctl.expand": "Expand",
        "alert.off_route": "off route",
        "alert.stopped": "stopped",
        "alert.stale_position": "no position",
        "alert.late_departure": "late departure",
        "alert.late_arrival": "late arrival",
        "alert_open": "open",
        "alert_resolved": "resolved",
        "long_stop": "stopped",
        "corridor": "monitored corridor ({km} km each side of the route; beyond it: alert)",
        "events": "alerts and stops",
        "event_place": "where an alert was raised (red: open, pale: resolved)",
        "stop_place": "long stop ({d} or more)",
        "missing_asset": "This map is missing {file}: copy it together with the assets folder "
        "beside it, or write a single file with convoy map --inline.",
        "missing_assets": "This map is missing {file} and {n} files in all: copy it together "
        "with the assets folder beside it, or write a single file with convoy map --inline.",
        "map_link": "Open the route map of {code}",
        "more_alerts": "{n} more (click to open)",
        "ctl.collapse": "Collapse",
        "ctl.leaflet": "Leaflet, a JavaScript library for interactive maps",
        "replay": "replay",
        "replay.play": "Play the replay",
        "replay.pause": "Pause the replay",
        "replay.back": "One step back",
        "replay.forward": "One step forward",
        "replay.slider": "Drag to choose the moment shown",
        "replay.clock": "Time shown ({zone})",
        "replay.speed": "Replay speed",
        "zone.Asia/Shanghai": "China Standard Time",
    },
}


# --------------------------------------------------------------------------- lookup

# --------------------------------------------------------------------------- convoys

STAGES: dict[str, dict[str, str]] = {
    "en": {
        "planned": "planned",
        "mustering": "mustered at origin",
        "verified": "identities pre-verified",
        "screened": "screened before departure",
        "departed": "departed",
        "in_transit": "in transit",
        "arrived": "arrived",
        "arrival_screened": "screened on arrival",
        "handed_off": "handed off",
        "closed": "closed",
    },
    "zh-CN": {
        "planned": "已计划",
        "mustering": "始发地集结",
        "verified": "身份核录完成",
        "screened": "出发前健康筛查完成",
        "departed": "已出发",
        "in_transit": "途中",
        "arrived": "已到达",
        "arrival_screened": "到达抽检完成",
        "handed_off": "已交接企业",
        "closed": "已结束",
    },
}
"""Convoy stages by their value (``models.convoy.lifecycle.Stage``)."""

MODES: dict[str, dict[str, str]] = {
    "zh-CN": {"bus": "专车", "train": "专列", "flight": "包机"},
    "en": {"bus": "bus", "train": "train", "flight": "flight"},
}

# --------------------------------------------------------------------------- alerts

ALERT_KINDS: dict[str, dict[str, str]] = {
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

# --------------------------------------------------------------------------- messages

MESSAGES: dict[str, dict[str, tuple[str, str]]] = {
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
"""Notification templates (subject, body) by key and locale; ``models.notify.messages.render``
fills them in. They take only masked or non-personal values."""

# --------------------------------------------------------------------------- manifest columns

COLUMNS: dict[str, dict[str, str]] = {
    "zh-CN": {
        "seat": "序号", "name": "姓名", "id_number": "身份证号", "phone": "手机号",
        "employer": "用工企业", "origin": "户籍地", "health_code": "健康码",
        "nat_result": "核酸结果", "nat_time": "核酸检测时间", "temperature": "体温",
        "entry_applied": "入甬申请",
    },
    "en": {
        "seat": "seat", "name": "name", "id_number": "ID number", "phone": "phone",
        "employer": "employer", "origin": "origin", "health_code": "health code",
        "nat_result": "nucleic-acid result", "nat_time": "nucleic-acid test time",
        "temperature": "temperature", "entry_applied": "entry application",
    },
}  # fmt: skip
"""The manifest's columns as people read them (report files, forms); the header aliases a
sheet may use are the manifest reader's (``models.intake.manifest.HEADERS``)."""

REPORT: dict[str, dict[str, str]] = {
    "zh-CN": {
        "title": "{campaign} 工作报告", "generated": "生成时间", "figure": "指标", "value": "数值",
        "maps": "地图", "overview_map": "全局态势图", "convoy_maps": "各车次路线图",
        "enterprises": "各企业交接", "enterprise": "企业", "workers": "交接人数",
        "section.operation": "行动概况", "section.people": "人员", "section.held_reasons":
        "留置原因", "section.withdrawn_reasons": "退出原因", "section.punctuality": "准点",
        "section.handoffs": "企业交接", "section.alerts": "告警", "section.passes": "车辆通行证",
        "section.other": "其他",
        "officers_sent": "派出警力", "provinces": "省份", "origin_places": "始发地",
        "trips": "车次（专列/包机/专车）", "trips.train": "专列", "trips.flight": "包机",
        "trips.bus": "专车", "passengers": "名单人数", "workers_escorted": "护送返岗（已交接）",
        "held": "留置", "withdrawn": "退出", "in_custody": "仍在护送中",
        "arrived_trips": "已到达车次", "on_time_trips": "准点车次", "on_time_rate": "准点率",
        "median_delay_min": "延误中位数（分钟）", "max_delay_min": "最大延误（分钟）",
        "enterprises_received": "接收企业", "handoffs": "交接次数",
        "alerts_raised": "告警", "alerts_acknowledged": "已确认", "alerts_escalated": "已升级",
        "passes_issued": "已发通行证", "passes_delivered": "已送达", "units_served": "服务单位",
        "passes_same_day_rate": "当日办结率",
    },
    "en": {
        "title": "{campaign}: operation report", "generated": "generated", "figure": "figure",
        "value": "value", "maps": "maps", "overview_map": "operations overview",
        "convoy_maps": "route maps", "enterprises": "handoffs per enterprise",
        "enterprise": "enterprise", "workers": "workers handed off",
        "section.operation": "operation", "section.people": "people",
        "section.held_reasons": "held: reasons", "section.withdrawn_reasons":
        "withdrawn: reasons", "section.punctuality": "punctuality", "section.handoffs":
        "handoffs", "section.alerts": "alerts", "section.passes": "vehicle passes",
        "section.other": "other",
        "officers_sent": "officers dispatched", "provinces": "provinces",
        "origin_places": "places of origin", "trips": "trips", "trips.train": "trains",
        "trips.flight": "flights", "trips.bus": "buses", "passengers": "on the manifests",
        "workers_escorted": "workers escorted (handed off)", "held": "held",
        "withdrawn": "withdrawn", "in_custody": "still in custody",
        "arrived_trips": "trips arrived", "on_time_trips": "trips on time",
        "on_time_rate": "on-time rate", "median_delay_min": "median delay (min)",
        "max_delay_min": "largest delay (min)", "enterprises_received": "enterprises receiving",
        "handoffs": "handoffs", "alerts_raised": "alerts raised",
        "alerts_acknowledged": "acknowledged", "alerts_escalated": "escalated",
        "passes_issued": "vehicle passes issued", "passes_delivered": "passes delivered",
        "units_served": "units served", "passes_same_day_rate": "same-day rate",
    },
}  # fmt: skip
"""The campaign report's sections and figures (``models.views.report_sections``); a figure
without a label here shows its key."""

DOMAINS: dict[str, Mapping[str, Mapping[str, str]]] = {
    "maps": MAPS, "stages": STAGES, "modes": MODES, "alert_kinds": ALERT_KINDS,
    "columns": COLUMNS, "report": REPORT,
}  # fmt: skip
"""Every domain's table by name (the ``domain`` argument of :func:`label`)."""


def is_locale(value: str) -> bool:
    """Whether texts exist in this locale (``zh-CN`` or ``en``)."""
    return value in LOCALES


def labels(domain: str, locale: str) -> Mapping[str, str]:
    """The whole table of one domain in one locale (English for an unknown locale)."""
    table = _table(domain)
    return table.get(locale) or table[FALLBACK]


def label(domain: str, key: str, locale: str, **params: Any) -> str:
    """The text ``key`` of ``domain`` in ``locale`` with ``params`` filled in.

    A key missing (or empty) in the locale falls back to English, and a key unknown there too
    to the key itself, so a missing translation shows up on screen instead of failing.
    """
    table = _table(domain)
    text = table.get(locale, {}).get(key) or table[FALLBACK].get(key, key)
    return text.format(**params) if params else text


def _table(domain: str) -> Mapping[str, Mapping[str, str]]:
    try:
        return DOMAINS[domain]
    except KeyError:
        known = ", ".join(sorted(DOMAINS))
        raise KeyError(f"There is no label domain {domain!r}; the domains are {known}.") from None


# --------------------------------------------------------------------------- times


def local_time(
    at: datetime | str | None,
    settings: Settings | None = None,
    *,
    short: bool = False,
    empty: str = "",
) -> str:
    """A time as people read it, in the display time zone: ``YYYY-MM-DD HH:MM``, or
    ``MM-DD HH:MM`` when ``short`` (messages, alerts); ``empty`` for none. ISO text is read too.
    The one formatter of times shown to people."""
    if at is None or at == "":
        return empty
    if isinstance(at, str):
        at = datetime.fromisoformat(at)
    if settings is None:
        from config import get_settings

        settings = get_settings()
    return at.astimezone(settings.tz).strftime("%m-%d %H:%M" if short else "%Y-%m-%d %H:%M")
