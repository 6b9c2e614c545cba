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
    "ALERT_KINDS",
    "COLUMNS",
    "CONSOLE",
    "DESK",
    "DOMAINS",
    "FALLBACK",
    "FIELD",
    "LOCALES",
    "MAPS",
    "MESSAGES",
    "MODES",
    "PERMITS",
    "REPORT",
    "STAGES",
    "Locale",
    "is_locale",
    "label",
    "labels",
    "local_time",
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
    # -- the enterprise service desk (issue 16) ------------------------------------------------
    "desk.request": {
        "zh-CN": (
            "【企业诉求】{number} {enterprise}：{kind}",
            "{enterprise} 于 {when} 提出{kind}（{channel}），联系人 {contact} {phone}：\n{text}\n"
            "请于 {due} 前办结。",
        ),
        "en": (
            "[Enterprise request] {number} {enterprise}: {kind}",
            "{enterprise} raised a {kind} at {when} ({channel}); contact {contact} {phone}:\n"
            "{text}\nPlease answer it by {due}.",
        ),
    },
    "desk.at_risk": {
        "zh-CN": (
            "【即将超时】{number} {enterprise} 的{kind}尚未办结",
            "{enterprise} 的{kind} {number}（{status}）须于 {due} 前办结，剩余约 {hours} 小时。",
        ),
        "en": (
            "[At risk] {number} of {enterprise} is not answered yet",
            "The {kind} {number} of {enterprise} ({status}) is due by {due}; about {hours} h left.",
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

# --------------------------------------------------------------------------- service desk

DESK: dict[str, dict[str, str]] = {
    "zh-CN": {
        "kind.staff_return": "员工返岗", "kind.vehicle_pass": "车辆通行",
        "kind.policy_question": "政策咨询", "kind.other": "其他",
        "status.open": "待受理", "status.in_hand": "办理中", "status.resolved": "已办结",
        "status.passed_on": "已转办",
        "channel.page": "企业页面", "channel.phone": "电话", "channel.window": "窗口",
        "outcome.cleared": "核查通过", "outcome.attention": "需关注",
        "outcome.invalid": "信息有误",
        "public.cleared": "未发现异常，可按计划安排返岗。",
        "public.travel_restriction": "暂不具备出行条件，请暂缓安排返岗，并联系联络民警。",
        "public.quarantine_order": "须先完成健康管理措施，请联系所在社区或联络民警。",
        "public.already_returned": "记录显示此人已返回，请核实是否重复报送。",
        "public.on_convoy": "已在包车（专列、包机）返岗名单中，无需另行安排。",
        "public.contact_officer": "需进一步核实，请联系联络民警。",
        "public.id_invalid": "身份证号有误，请核对后重新提交。",
        "public.missing_field": "缺少姓名或身份证号，请补全后重新提交。",
        "public.duplicate_in_file": "名单内重复，已按第一次出现核查。",
    },
    "en": {
        "kind.staff_return": "staff return", "kind.vehicle_pass": "vehicle pass",
        "kind.policy_question": "policy question", "kind.other": "other request",
        "status.open": "open", "status.in_hand": "in hand", "status.resolved": "resolved",
        "status.passed_on": "passed on",
        "channel.page": "enterprise page", "channel.phone": "phone", "channel.window": "window",
        "outcome.cleared": "cleared", "outcome.attention": "needs attention",
        "outcome.invalid": "not checked",
        "public.cleared": "Nothing found: the return can go ahead as planned.",
        "public.travel_restriction": "Not cleared to travel yet: hold the return and contact "
        "your liaison officer.",
        "public.quarantine_order": "Health-management measures come first: contact the "
        "residential community or your liaison officer.",
        "public.already_returned": "Records show this person has already returned: check "
        "for a duplicate.",
        "public.on_convoy": "Already on the manifest of a charter convoy: nothing else to "
        "arrange.",
        "public.contact_officer": "Needs a further check: contact your liaison officer.",
        "public.id_invalid": "The ID number is not valid: correct it and send the list again.",
        "public.missing_field": "The name or ID number is missing: complete it and send the "
        "list again.",
        "public.duplicate_in_file": "Listed twice: checked once, at its first row.",
    },
}  # fmt: skip
"""The service desk's words: request kinds, statuses and channels, staff-check outcomes, and
the PUBLIC wording of each registry category an enterprise may read (``public.*``: never the
registry's own category or reason)."""

# --------------------------------------------------------------------------- console

CONSOLE: dict[str, dict[str, str]] = {
    "zh-CN": {
        "app": "护送行动指挥台", "nav.board": "车次总览", "nav.alerts": "告警",
        "nav.intake": "名单导入", "nav.overview": "领导视图", "nav.signout": "退出登录",
        "role.coordinator": "调度员", "role.manager": "领导", "role.escort": "护送民警",
        "role.admin": "管理员", "role.permit_officer": "通行证专员", "role.enterprise": "企业",
        "done.alert-ack": "告警已确认。", "done.alert-snooze": "告警已暂缓升级。",
        "done.alert-resolve": "告警已解除。", "done.run-started": "已启动该车次的流程运行。",
        "done.run-attached": "该车次已有进行中的流程运行，已关联。", "error.title": "无法完成",
        "error.back": "返回总览", "login.title": "登录", "login.token": "访问令牌",
        "login.hint": "粘贴管理员用 convoy users token 用户名 发给您的令牌（cvo_ 开头）。",
        "login.submit": "登录", "login.stale": "登录表单已过期，请重新提交。",
        "why.signin": "请先登录。", "why.invalid": "登录凭证无效，请重新登录。",
        "why.expired": "登录已过期，请重新登录。", "why.revoked": "您的访问权限已被撤销。",
        "why.role": "您的角色没有指挥台页面。", "why.signedout": "您已退出登录。",
        "board.title": "全部车次", "board.search": "查找（车次、线路）", "board.mode": "方式",
        "board.all_modes": "全部方式", "board.show": "显示", "board.filter": "筛选",
        "board.count": "显示 {shown} / 共 {total} 个车次", "board.updated": "更新于",
        "board.unacked": "{n} 条未确认", "board.acked": "{n} 条处理中",
        "board.none": "没有符合条件的车次。", "show.active": "进行中", "show.alerts": "有告警",
        "show.late": "延误", "show.closed": "已结束", "show.all": "全部", "col.convoy": "车次",
        "col.mode": "方式", "col.route": "线路", "col.stage": "阶段", "col.passengers": "名单人数",
        "col.planned_departure": "计划出发", "col.planned_arrival": "计划到达",
        "col.eta": "预计/实际到达", "col.late": "延误", "col.alerts": "告警", "col.kind": "类型",
        "col.state": "状态", "col.summary": "内容", "col.opened": "发生时间", "col.handled": "处理",
        "col.seat": "座号", "col.name": "姓名", "col.id_number": "身份证号",
        "col.employer": "用工企业", "col.custody": "看护状态", "col.at": "时间",
        "col.change": "变化", "col.reason": "原因", "col.by": "操作人", "col.row": "行",
        "col.level": "级别", "col.column": "列", "col.code": "代码", "col.value": "值（已脱敏）",
        "col.enterprise": "企业", "custody.registered": "已登记", "custody.verified": "已核验",
        "custody.cleared": "筛查通过", "custody.boarded": "已上车", "custody.arrived": "已到达",
        "custody.handed_off": "已交接", "custody.held": "留观/扣留", "custody.withdrawn": "退出",
        "alert.ack": "确认", "alert.minutes": "暂缓时长", "alert.for_minutes": "{n} 分钟",
        "alert.snooze": "暂缓", "alert.reason": "解除原因", "alert.resolve": "解除",
        "alert.escalated": "已升级 {n} 级", "alert.state.open": "未确认",
        "alert.state.acknowledged": "已确认", "alert.state.resolved": "已解除",
        "alert.acked_by": "{who} 于 {at} 确认", "alert.snoozed_until": "暂缓至 {at}",
        "alert.resolved_by": "{who} 于 {at} 解除", "alerts.title": "告警收件箱",
        "alerts.none": "没有告警。", "alerts.open_only": "只看未解除", "alerts.all": "含已解除",
        "convoy.waits": "等待", "convoy.received": "已收到，待流程处理",
        "convoy.not_received": "尚未收到", "convoy.next_step": "下一步：{step}",
        "convoy.done": "已全部完成", "convoy.in_custody": "看护中", "convoy.actual": "实际",
        "convoy.flow_run": "流程运行", "convoy.open_prefect": "在 Prefect 界面中打开",
        "convoy.no_run": "尚未运行", "convoy.run": "启动/继续流程",
        "convoy.run_hint": "与 convoy run 相同：已有运行则关联，不会重复。",
        "convoy.timeline": "阶段时间线", "convoy.by": "记录：{who}",
        "convoy.reported_by": "报到：{who}", "convoy.map": "实时地图",
        "convoy.roster": "座位名单（已脱敏）", "convoy.custody_log": "看护记录",
        "convoy.no_custody": "尚无看护变化。", "kind.muster": "集结点名报到",
        "kind.screening": "健康筛查报到", "kind.depart": "出发报到", "kind.arrive": "到达报到",
        "kind.arrival_screening": "到达抽检报到", "kind.handoff": "企业交接报到",
        "kind.entry": "入甬申请", "kind.position": "位置", "intake.title": "名单导入",
        "intake.manifest": "车次人员名单", "intake.enterprises": "企业名单",
        "intake.file": "文件（CSV 或 XLSX）", "intake.upload": "上传并导入",
        "intake.manifest_hint": "只能导入计划中的车次；重复导入不会重复添加。",
        "intake.enterprises_hint": "按名称新增或更新企业；同一名单再次导入不变。",
        "intake.result": "{convoy} 导入结果",
        "intake.counts": (
            "读取 {read} 行（表头在第 {header} 行）：新增 {added}，已在名单 {already}，拒绝 {rejec"
            "ted}，带警告 {warnings}。"
        ),
        "intake.rejected_codes": "拒绝原因", "intake.warning_codes": "警告",
        "intake.errors": "问题（已脱敏）", "intake.warnings": "警告（已脱敏）",
        "intake.fixing_hint": "待修正文件含完整个人信息：修正后重新导入，勿转发。",
        "intake.enterprise_result": "企业名单导入结果",
        "intake.enterprise_counts": (
            "读取 {read} 家（表头在第 {header} 行）：新增 {added}，更新 {updated}，不变 {unchanged"
            "}，拒绝 {rejected}。"
        ),
        "file.errors_csv": "问题报告 CSV", "file.warnings_csv": "警告报告 CSV",
        "file.errors_xlsx": "问题报告 XLSX", "file.for_fixing": "待修正文件（含完整个人信息）",
        "overview.title": "行动总览", "overview.campaign": "行动", "overview.map": "行动态势图",
        "overview.report": "各车次报告", "overview.report_json": "数据接口：", "fig.trips": "车次",
        "fig.officers_sent": "派出民警", "fig.provinces": "涉及省份", "fig.origin_places": "始发地",
        "fig.passengers": "名单人数", "fig.workers_escorted": "已护送交接", "fig.held": "留观/扣留",
        "fig.withdrawn": "退出", "fig.in_custody": "看护中", "nav.permits": "通行证",
        "done.permit-survey": "已记录现场勘查。", "done.permit-route": "已规划路线。",
        "done.permit-issue": "通行证已签发。", "done.permit-deliver": "已记录送证上门。",
        "done.permit-reject": "申请已驳回。", "permits.title": "通行证申请",
        "permits.same_day": "{day}：已送达 {delivered} 张，其中当日办结 {same} 张（{rate}）",
        "permits.at_risk": "今日待办结 {n} 件", "permits.overdue": "已超时 {n} 件",
        "permits.hours_left": "距午夜 {h} 小时", "permits.missed": "未能当日办结",
        "permits.none": "没有申请。", "col.number": "编号", "col.clock": "当日办结",
        "col.plate": "车牌", "col.site": "工地", "col.contact": "联系人", "col.applied": "申请时间",
        "permit.note": "勘查意见", "permit.verdict": "勘查结论", "permit.survey_ok": "通过",
        "permit.survey_reject": "不通过", "permit.survey": "记录勘查",
        "permit.vias": "途经点（地名或 纬度,经度；多个用 ; 分隔）", "permit.route": "规划路线",
        "permit.issue": "签发", "permit.to": "签收人", "permit.deliver": "送证上门",
        "permit.reason": "驳回原因", "permit.reject": "驳回", "permit.status.applied": "已申请",
        "permit.status.surveyed": "已勘查", "permit.status.route_planned": "已规划路线",
        "permit.status.issued": "已签发", "permit.status.delivered": "已送达",
        "permit.status.rejected": "已驳回", "permit.status.expired": "已过期",
        "permit.requested": "申请有效期", "permit.route_label": "路线", "permit.valid": "有效期",
        "permit.issued_at": "{at} 签发", "permit.delivered": "送达", "permit.history": "办理记录",
        "permit.map": "通行路线图", "board.placeholder": "车次或地名，如 蒲城",
    },
    "en": {
        "app": "Convoy Ops console", "nav.board": "Convoys", "nav.alerts": "Alerts",
        "nav.intake": "Imports", "nav.overview": "Managers' view", "nav.signout": "Sign out",
        "role.coordinator": "coordinator", "role.manager": "manager", "role.escort": "escort",
        "role.admin": "admin", "role.permit_officer": "permit officer",
        "role.enterprise": "enterprise", "done.alert-ack": "Alert acknowledged.",
        "done.alert-snooze": "Alert snoozed.", "done.alert-resolve": "Alert resolved.",
        "done.run-started": "The convoy's flow run was started.",
        "done.run-attached": "The convoy already has a live flow run; attached to it.",
        "error.title": "Not done", "error.back": "Back to the console", "login.title": "Sign in",
        "login.token": "Access token",
        "login.hint": (
            "Paste the token an admin made for you with convoy users token NAME (starts with cvo_)"
            "."
        ),
        "login.submit": "Sign in", "login.stale": "The sign-in form had expired; send it again.",
        "why.signin": "Please sign in.",
        "why.invalid": "Your sign-in was not valid; sign in again.",
        "why.expired": "Your session has expired; sign in again.",
        "why.revoked": "Your access was revoked.", "why.role": "Your role has no console pages.",
        "why.signedout": "You are signed out.", "board.title": "Every convoy",
        "board.search": "Find (code, route)", "board.mode": "Mode", "board.all_modes": "all modes",
        "board.show": "Show", "board.filter": "Filter", "board.count": "{shown} of {total} convoys",
        "board.updated": "updated", "board.unacked": "{n} unacknowledged",
        "board.acked": "{n} being handled", "board.none": "No convoy matches.",
        "show.active": "active", "show.alerts": "with alerts", "show.late": "late",
        "show.closed": "closed", "show.all": "all", "col.convoy": "Convoy", "col.mode": "Mode",
        "col.route": "Route", "col.stage": "Stage", "col.passengers": "Manifest",
        "col.planned_departure": "Planned departure", "col.planned_arrival": "Planned arrival",
        "col.eta": "ETA / arrived", "col.late": "Late", "col.alerts": "Alerts", "col.kind": "Kind",
        "col.state": "State", "col.summary": "Summary", "col.opened": "Opened",
        "col.handled": "Handled", "col.seat": "Seat", "col.name": "Name",
        "col.id_number": "ID number", "col.employer": "Employer", "col.custody": "Custody",
        "col.at": "At", "col.change": "Change", "col.reason": "Reason", "col.by": "By",
        "col.row": "Row", "col.level": "Level", "col.column": "Column", "col.code": "Code",
        "col.value": "Value (masked)", "col.enterprise": "Enterprise",
        "custody.registered": "registered", "custody.verified": "verified",
        "custody.cleared": "cleared", "custody.boarded": "boarded", "custody.arrived": "arrived",
        "custody.handed_off": "handed off", "custody.held": "held",
        "custody.withdrawn": "withdrawn", "alert.ack": "Acknowledge", "alert.minutes": "Snooze for",
        "alert.for_minutes": "{n} min", "alert.snooze": "Snooze", "alert.reason": "Why it is over",
        "alert.resolve": "Resolve", "alert.escalated": "escalated ×{n}", "alert.state.open": "open",
        "alert.state.acknowledged": "acknowledged", "alert.state.resolved": "resolved",
        "alert.acked_by": "acknowledged by {who} at {at}",
        "alert.snoozed_until": "snoozed until {at}",
        "alert.resolved_by": "resolved by {who} at {at}", "alerts.title": "Alert inbox",
        "alerts.none": "No alerts.", "alerts.open_only": "Open ones only",
        "alerts.all": "Include resolved", "convoy.waits": "Waiting for",
        "convoy.received": "received, the flow takes it next",
        "convoy.not_received": "not received yet", "convoy.next_step": "Next: {step}",
        "convoy.done": "everything done", "convoy.in_custody": "in custody",
        "convoy.actual": "actual", "convoy.flow_run": "Flow run",
        "convoy.open_prefect": "open in the Prefect UI", "convoy.no_run": "not run yet",
        "convoy.run": "Start / resume the flow",
        "convoy.run_hint": "As convoy run: attaches to a live run, never starts a second one.",
        "convoy.timeline": "Stage timeline", "convoy.by": "recorded by {who}",
        "convoy.reported_by": "reported by {who}", "convoy.map": "Live map",
        "convoy.roster": "Seat roster (masked)", "convoy.custody_log": "Custody log",
        "convoy.no_custody": "No custody changes yet.", "kind.muster": "the muster check-in",
        "kind.screening": "the screening check-in", "kind.depart": "the departure check-in",
        "kind.arrive": "the arrival check-in",
        "kind.arrival_screening": "the arrival spot-check check-in",
        "kind.handoff": "the handoff check-in", "kind.entry": "entry applications",
        "kind.position": "a position", "intake.title": "Imports",
        "intake.manifest": "A convoy's manifest", "intake.enterprises": "The enterprise list",
        "intake.file": "File (CSV or XLSX)", "intake.upload": "Upload and import",
        "intake.manifest_hint": (
            "Only planned convoys take a manifest; importing again adds nothing twice."
        ),
        "intake.enterprises_hint": (
            "Adds or updates enterprises by name; the same list again changes nothing."
        ),
        "intake.result": "Import into {convoy}",
        "intake.counts": (
            "{read} rows read (header on row {header}): {added} added, {already} already on the ma"
            "nifest, {rejected} rejected, {warnings} with warnings."
        ),
        "intake.rejected_codes": "Rejected", "intake.warning_codes": "Warnings",
        "intake.errors": "Problems (masked)", "intake.warnings": "Warnings (masked)",
        "intake.fixing_hint": (
            "The file for fixing holds full personal data: fix it and import it again; do not pass"
            " it on."
        ),
        "intake.enterprise_result": "Enterprise list imported",
        "intake.enterprise_counts": (
            "{read} enterprises read (header on row {header}): {added} added, {updated} updated, {"
            "unchanged} unchanged, {rejected} rejected."
        ),
        "file.errors_csv": "problems (CSV)", "file.warnings_csv": "warnings (CSV)",
        "file.errors_xlsx": "report (XLSX)",
        "file.for_fixing": "rows for fixing (full personal data)",
        "overview.title": "Operation overview", "overview.campaign": "Campaign",
        "overview.map": "Operations map", "overview.report": "Report per convoy",
        "overview.report_json": "As data:", "fig.trips": "trips",
        "fig.officers_sent": "officers sent", "fig.provinces": "provinces",
        "fig.origin_places": "origin places", "fig.passengers": "on manifests",
        "fig.workers_escorted": "workers handed off", "fig.held": "held",
        "fig.withdrawn": "withdrawn", "fig.in_custody": "in custody",
        "nav.permits": "Vehicle passes", "done.permit-survey": "Survey recorded.",
        "done.permit-route": "Route planned.", "done.permit-issue": "Pass issued.",
        "done.permit-deliver": "Delivery recorded.", "done.permit-reject": "Application rejected.",
        "permits.title": "Vehicle-pass applications",
        "permits.same_day": "{day}: {delivered} delivered, {same} of them the same day ({rate})",
        "permits.at_risk": "{n} due today", "permits.overdue": "{n} overdue",
        "permits.hours_left": "{h} h to midnight", "permits.missed": "same day missed",
        "permits.none": "No applications.", "col.number": "Number", "col.clock": "Same day",
        "col.plate": "Plate", "col.site": "Site", "col.contact": "Contact",
        "col.applied": "Applied", "permit.note": "Survey notes", "permit.verdict": "Survey result",
        "permit.survey_ok": "passed", "permit.survey_reject": "failed",
        "permit.survey": "Record survey",
        "permit.vias": "Waypoints (places or lat,lon; separate with ;)",
        "permit.route": "Plan route", "permit.issue": "Issue", "permit.to": "Received by",
        "permit.deliver": "Delivered", "permit.reason": "Why rejected", "permit.reject": "Reject",
        "permit.status.applied": "applied", "permit.status.surveyed": "surveyed",
        "permit.status.route_planned": "route planned", "permit.status.issued": "issued",
        "permit.status.delivered": "delivered", "permit.status.rejected": "rejected",
        "permit.status.expired": "expired", "permit.requested": "Requested",
        "permit.route_label": "Route", "permit.valid": "Valid", "permit.issued_at": "issued {at}",
        "permit.delivered": "Delivered", "permit.history": "History", "permit.map": "Route map",
        "board.placeholder": "code or place, e.g. Pucheng",
    },
}  # fmt: skip
"""The coordinators' console and the managers' view (``flows/api/console``)."""

# --------------------------------------------------------------------------- vehicle passes

PERMITS: dict[str, dict[str, str]] = {
    "zh-CN": {
        "seq": "序号", "number": "通行证编号", "plate": "车牌号", "vehicle_type": "车辆类型",
        "driver": "驾驶员", "driver_phone": "联系电话", "unit": "申请单位", "site": "工地",
        "valid_until": "有效期至", "delivered_to": "签收人", "delivered_at": "签收时间",
        "sheet": "送达清单", "list_title": "通行证送达清单 {number} · {project}",
        "list_info": "计划出发 {at} · 送达民警 {officer} · 通行证 {passes} 张，"
                     "已签收 {delivered} 张",
        "signature": "送达民警签字：__________　　日期：__________",
    },
    "en": {
        "seq": "no.", "number": "pass number", "plate": "plate", "vehicle_type": "vehicle type",
        "driver": "driver", "driver_phone": "phone", "unit": "unit", "site": "site",
        "valid_until": "valid until", "delivered_to": "received by", "delivered_at": "received at",
        "sheet": "delivery list", "list_title": "Vehicle-pass delivery list {number} · {project}",
        "list_info": "Leaves {at} · officer {officer} · {passes} passes, {delivered} received",
        "signature": "Officer's signature: __________    Date: __________",
    },
}  # fmt: skip
"""Vehicle passes: the columns of fleet lists and delivery lists, the delivery list's texts."""

# --------------------------------------------------------------------------- escorts' phone page

FIELD: dict[str, dict[str, str]] = {
    "zh-CN": {
        "title": "护送任务", "escort": "护送民警", "convoys": "我的车次", "no_convoys":
        "暂无进行中的车次。", "next_task": "下一项任务", "stage": "当前阶段", "waiting_for":
        "流程等待", "nothing_due": "当前无待办报到。", "due": "现在", "roster": "座位名单",
        "seat": "座位", "name": "姓名", "id_number": "身份证号", "employer": "用工企业",
        "custody": "状态", "count.total": "名单", "count.in_custody": "看护中",
        "count.held": "留置", "count.withdrawn": "退出", "count.handed_off": "已交接",
        "step.muster": "集结点名", "step.screening": "出发前健康筛查", "step.depart": "出发",
        "step.entry": "入甬申请跟进", "step.arrive": "到达", "step.arrival_screening":
        "到达抽检", "step.handoff": "企业交接", "step.hold": "留置 / 退出", "step.position":
        "共享我的位置", "step.pre_verify": "身份批量核录", "step.close": "结束车次",
        "muster.help": "勾选未到人员，其余视为已到。", "absent": "未到", "reason": "原因",
        "screening.help":
            "逐座录入体温；≥ {fever} °C 为发热，休息后可复测一次。核酸、健康码不选则按名单。",
        "temperature": "体温", "retemperature": "复测", "nat_result": "核酸", "nat_time":
        "核酸检测时间（本批）", "health_code": "健康码", "from_manifest": "按名单",
        "negative": "阴性", "positive": "阳性", "green": "绿码", "yellow": "黄码", "red": "红码",
        "fever": "发热，请休息后复测", "fever_still": "复测仍发热，将留置",
        "out_of_range": "读数异常，请重测", "ok": "正常",
        "depart.help": "勾选出发前离开的人员。", "left": "离开",
        "entry.help": "勾选已完成入甬申请的人员。", "entry_done": "已完成",
        "entry.none": "全部已完成入甬申请。",
        "arrive.help": "勾选途中离开、未到达的人员。", "missing": "未到达",
        "spot.help": "抽检以下座位（按规则抽样），只录入实测人员。",
        "handoff.help": "每家企业一张表：核对座位，填写接收人，可请接收人签名。",
        "handoff.none": "暂无待交接人员。", "handoff.done": "已交接",
        "received_by": "接收人", "signature": "接收人签名（可选）", "clear": "清除",
        "location": "地点",
        "hold.help": "任何时候都可以留置（如发热送医）或登记退出，须写原因和地点。",
        "withdraw": "退出（离开）而非留置", "hold.seat": "座位",
        "position.help": "没有 Traccar Client 时，用浏览器定位上报一次位置。",
        "position.none": "此浏览器无法定位。", "position.denied": "未获得定位权限。",
        "submit": "提交", "send_now": "立即发送",
        "queue.empty": "所有报到均已发送。",
        "queue.waiting": "待发送：{n} 条（无信号时保存在本机，恢复网络后自动发送）",
        "queue.offline": "当前离线", "sent": "已记录", "refused": "未被接受",
        "already": "已记录（重复发送未重复保存）", "queued": "已保存在本机，待发送",
        "required": "必填", "masked_note": "姓名、身份证号已脱敏。",
        "link.invalid": "此护送链接无效，请向指挥员索取新链接。",
        "link.expired": "此护送链接已于 {date} 过期，请向指挥员索取新链接。",
        "notice.link": "手机页面（个人链接，请勿转发）：{url}",
        "custody.registered": "已登记", "custody.verified": "已核录", "custody.cleared":
        "筛查通过", "custody.boarded": "已上车", "custody.arrived": "已到达",
        "custody.handed_off": "已交接", "custody.held": "留置", "custody.withdrawn": "退出",
    },
    "en": {
        "title": "Escort tasks", "escort": "Escort", "convoys": "My convoys", "no_convoys":
        "No convoy in progress.", "next_task": "Next task", "stage": "Stage", "waiting_for":
        "The flow waits for", "nothing_due": "No check-in is due now.", "due": "now",
        "roster": "Roster by seat", "seat": "Seat", "name": "Name", "id_number": "ID number",
        "employer": "Employer", "custody": "State", "count.total": "manifest",
        "count.in_custody": "in custody", "count.held": "held", "count.withdrawn": "withdrawn",
        "count.handed_off": "handed off",
        "step.muster": "Muster", "step.screening": "Pre-departure screening", "step.depart":
        "Departure", "step.entry": "Entry applications", "step.arrive": "Arrival",
        "step.arrival_screening": "Spot checks on arrival", "step.handoff": "Handoff",
        "step.hold": "Hold / withdraw", "step.position": "Share my position",
        "step.pre_verify": "Batch identity pre-verification", "step.close": "Close the convoy",
        "muster.help": "Tick who is absent; everyone else is present.", "absent": "absent",
        "reason": "Reason",
        "screening.help": "Type each seat's temperature; {fever} °C or more is a fever, one "
        "re-measurement after rest is allowed. NAT and health code: the manifest's unless set.",
        "temperature": "Temp", "retemperature": "Again", "nat_result": "NAT", "nat_time":
        "NAT test time (this batch)", "health_code": "Code", "from_manifest": "as manifest",
        "negative": "negative", "positive": "positive", "green": "green", "yellow": "yellow",
        "red": "red", "fever": "Fever: re-measure after rest", "fever_still":
        "Still a fever: will be held", "out_of_range": "Implausible reading: measure again",
        "ok": "ok",
        "depart.help": "Tick who left before departure.", "left": "left",
        "entry.help": "Tick who has completed the entry application.", "entry_done": "done",
        "entry.none": "Everyone has applied.",
        "arrive.help": "Tick who left during the trip and did not arrive.", "missing": "missing",
        "spot.help": "Spot-check these seats (the rule's sample); type only those measured.",
        "handoff.help": "One form per enterprise: check the seats, the receiver's name, and a "
        "signature if they will.",
        "handoff.none": "Nobody is waiting for a handoff.", "handoff.done": "handed off",
        "received_by": "Received by", "signature": "Receiver's signature (optional)",
        "clear": "Clear", "location": "Place",
        "hold.help": "At any time: hold someone (e.g. fever, to hospital) or record that they "
        "left, with a reason and a place.", "withdraw": "Withdrawn (left) rather than held",
        "hold.seat": "Seat",
        "position.help": "Without Traccar Client: report the position once from the browser.",
        "position.none": "This browser cannot locate.", "position.denied":
        "Location permission was not given.",
        "submit": "Submit", "send_now": "Send now",
        "queue.empty": "Every check-in has been sent.", "queue.waiting": "Waiting to be sent: "
        "{n} (kept on this phone without signal, sent when the network returns)",
        "queue.offline": "Offline", "sent": "Recorded", "refused": "Not accepted",
        "already": "Recorded (a repeat was not stored twice)", "queued":
        "Kept on this phone, waiting to be sent", "required": "required", "masked_note":
        "Names and ID numbers are masked.",
        "link.invalid": "This escort link is not valid; ask a coordinator for a new one.",
        "link.expired": "This escort link expired on {date}; ask a coordinator for a new one.",
        "notice.link": "Phone page (your personal link, do not forward): {url}",
        "custody.registered": "registered", "custody.verified": "verified", "custody.cleared":
        "cleared", "custody.boarded": "boarded", "custody.arrived": "arrived",
        "custody.handed_off": "handed off", "custody.held": "held", "custody.withdrawn":
        "withdrawn",
    },
}  # fmt: skip
"""The escorts' phone page (``flows.api.field``) and the link line of their task notices."""

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
        "section.desk": "企业服务", "desk.enterprises_served": "服务企业",
        "desk.enterprises_with_liaison": "有联络民警的企业", "desk.requests": "诉求与咨询",
        "desk.requests_open": "未办结", "desk.requests_closed": "已办结",
        "desk.same_day": "当日办结", "desk.same_day_rate": "当日办结率",
        "desk.staff_checks": "批量核查名单", "desk.staff_checked": "核查人数",
        "desk.staff_attention": "需关注人数",
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
        "section.desk": "enterprise service desk",
        "desk.enterprises_served": "enterprises served",
        "desk.enterprises_with_liaison": "enterprises with a liaison officer",
        "desk.requests": "requests and consultations", "desk.requests_open": "still open",
        "desk.requests_closed": "closed", "desk.same_day": "closed the same day",
        "desk.same_day_rate": "same-day rate", "desk.staff_checks": "staff lists checked",
        "desk.staff_checked": "staff checked", "desk.staff_attention": "staff needing attention",
    },
}  # fmt: skip
"""The campaign report's sections and figures (``models.views.report_sections``); a figure
without a label here shows its key."""

DOMAINS: dict[str, Mapping[str, Mapping[str, str]]] = {
    "maps": MAPS, "stages": STAGES, "modes": MODES, "alert_kinds": ALERT_KINDS,
    "columns": COLUMNS, "desk": DESK, "console": CONSOLE, "permits": PERMITS, "field": FIELD,
    "report": REPORT,
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
