"""Deterministic generator of replayable Chinese live-commerce (直播带货) sessions.

One generator serves two uses:

* ``make demo`` replays ``samples/demo_session.jsonl`` (5 rooms, ~9 minutes), made with
  ``python bench/session_gen.py --rooms 5 --seconds 540 --rate 4 --seed 7 --out samples/demo_session.jsonl``;
* benchmarks call :func:`generate` lazily for millions of events and up to millions of viewers.

Each event is a corpus line: the event shape plus ``"type"``; transcript and danmaku lines
carry the ground-truth ``"expect"`` labels of the violations this generator planted (and a
``"note"`` on planted ones), so a generated session is also a labeled corpus for ``livemod eval``.

Arrivals are a Poisson process over all rooms, so the output is sorted by ``ts`` without
buffering; memory is per room (pinned item, one pending split message), never per viewer
or per event. Only ``random.Random(seed)`` is consumed, always in the same order, so the
output is a pure function of the arguments. Phrases are written for this project.
"""
from __future__ import annotations

import argparse
import itertools
import random
import sys
from collections import Counter
from dataclasses import dataclass, field, replace
from typing import Any, BinaryIO, Iterable, Iterator

import orjson

# 2024-11-27 20:00 China Standard Time: prime time for live commerce.
DEFAULT_BASE_TS = 1732708800.0

# Target share of emitted events per type (issue 2: 90 / 8 / 2).
MIX = {"danmaku": 0.90, "transcript": 0.08, "product": 0.02}

# Chance that an anchor line / a viewer message carries a planted violation.
TRANSCRIPT_VIOLATION_P = 0.12
DANMAKU_VIOLATION_P = 0.022
# Share of a repeat offender among contact-handle posts in the rooms that have one.
OFFENDER_SHARE = 0.5
# Share of contact handles split across two messages of the same viewer.
SPLIT_SHARE = 0.2
# Product operations: a switch emits unpin + pin, an update emits one event.
SWITCH_P = 0.6
PRODUCT_EVENTS_PER_OP = 2 * SWITCH_P + (1 - SWITCH_P)
# Fractions of the session at which the banned-goods room's anchor mentions banned goods.
BANNED_AT = (0.45, 0.8)
BANNED_ROOM = 4  # theme index of the room that sells "outdoor" goods


def _label(detector: str, category: str) -> dict[str, str]:
    return {"detector": detector, "category": category}


# --------------------------------------------------------------------------------------
# Catalog: realistic items per room theme. ``false_*`` are what a dishonest anchor claims.
# --------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CatalogItem:
    key: str
    title: str
    short: str  # what the anchor calls it
    category: str
    price: float
    material: str
    origin: str
    spec: str
    brand: str
    licenses: tuple[str, ...] = ()
    gift: str = "小礼品"
    false_material: str = ""
    false_origin: str = ""


THEMES: tuple[tuple[CatalogItem, ...], ...] = (
    (  # 0 美妆护肤 + 保健
        CatalogItem("hya_cream", "玉兰泉玻尿酸补水保湿面霜50g", "面霜", "cosmetics", 129.0,
                    "透明质酸钠 甘油 角鲨烷", "广东广州", "50g/瓶", "玉兰泉",
                    ("化妆品备案:粤G妆网备字2023018842",), "小样三件套"),
        CatalogItem("nia_serum", "澄肌烟酰胺提亮精华液30ml", "精华", "cosmetics", 199.0,
                    "烟酰胺 5%", "上海", "30ml/瓶", "澄肌",
                    ("化妆品备案:沪G妆网备字2022011207",), "同款精华小样"),
        CatalogItem("fish_oil", "海沐深海鱼油软胶囊 100粒", "鱼油", "health_food", 168.0,
                    "鱼油 明胶 甘油", "山东威海", "100粒/瓶", "海沐",
                    ("保健食品批准文号:国食健注G20190415", "食品生产许可证:SC12737100200331"),
                    "维生素C一瓶"),
        CatalogItem("sunscreen", "晴屿清透防晒喷雾SPF50+ 150ml", "防晒喷雾", "cosmetics", 89.0,
                    "乙基己基三嗪酮 奥克立林", "浙江湖州", "150ml/瓶", "晴屿",
                    ("特殊化妆品注册证:国妆特字G20210837",), "旅行装一支"),
        CatalogItem("lipstick", "绯言丝绒哑光口红 #316", "口红", "cosmetics", 69.0,
                    "蜂蜡 二氧化钛", "广东广州", "3.5g/支", "绯言",
                    ("化妆品备案:粤G妆网备字2022067315",), "口红小样"),
    ),
    (  # 1 女装
        CatalogItem("wool_coat", "素禾双面呢羊毛大衣女中长款", "大衣", "apparel", 399.0,
                    "羊毛30% 聚酯纤维70%", "浙江桐乡", "S/M/L/XL", "素禾",
                    gift="同款腰带", false_material="纯羊毛"),
        CatalogItem("silk_shirt", "绮罗桑蚕丝衬衫女长袖", "衬衫", "apparel", 259.0,
                    "桑蚕丝19% 聚酯纤维81%", "江苏苏州", "S/M/L", "绮罗",
                    gift="真丝发圈", false_material="百分百真丝"),
        CatalogItem("down_jacket", "北栖白鸭绒短款羽绒服", "羽绒服", "apparel", 499.0,
                    "白鸭绒 含绒量90%", "江苏常熟", "S/M/L/XL/XXL", "北栖",
                    gift="收纳袋", false_material="白鹅绒"),
        CatalogItem("cotton_tee", "棉里纯棉圆领短袖T恤", "T恤", "apparel", 59.0,
                    "棉100%", "广东佛山", "S/M/L/XL", "棉里", gift="袜子两双"),
        CatalogItem("jeans", "蓝岸高腰直筒牛仔裤", "牛仔裤", "apparel", 159.0,
                    "棉98% 氨纶2%", "广东新塘", "25-32码", "蓝岸",
                    gift="同款皮带", false_material="纯棉"),
    ),
    (  # 2 食品
        CatalogItem("beef_jerky", "草原汇风干牛肉干500g", "牛肉干", "food", 99.0,
                    "牛肉 食用盐 香辛料", "内蒙古锡林郭勒", "500g/袋", "草原汇",
                    ("食品生产许可证:SC10415250200188",), "试吃装两包"),
        # The one food item sold without any license (issue 2): a "farm" honey.
        CatalogItem("farm_honey", "农家自产土蜂蜜 百花蜜", "土蜂蜜", "food", 68.0,
                    "蜂蜜", "湖北神农架", "500g/瓶", "山里人家", gift="蜂蜜勺"),
        CatalogItem("snail_noodle", "柳味坊柳州螺蛳粉 5袋装", "螺蛳粉", "food", 49.9,
                    "米粉 酸笋 螺蛳汤料包", "广西柳州", "330g*5袋", "柳味坊",
                    ("食品生产许可证:SC10345020500617",), "酸笋加量包"),
        CatalogItem("nut_box", "果然好每日坚果礼盒30包", "坚果", "food", 139.0,
                    "腰果 巴旦木 核桃仁 蔓越莓干", "安徽芜湖", "25g*30包", "果然好",
                    ("食品生产许可证:SC11834020700092",), "手提袋",
                    false_origin="美国加州"),
        CatalogItem("rice", "黑土田五常稻花香大米5kg", "大米", "food", 79.0,
                    "稻谷", "黑龙江五常", "5kg/袋", "黑土田",
                    ("食品生产许可证:SC10123018400526",), "量米杯"),
    ),
    (  # 3 数码家居 + 医疗器械
        CatalogItem("earbuds", "声岚主动降噪蓝牙耳机", "耳机", "electronics", 299.0,
                    "ABS 硅胶", "广东深圳", "续航30小时", "声岚",
                    ("CCC认证:2023011606541234",), "耳机保护套"),
        CatalogItem("powerbank", "电立方20000毫安快充充电宝", "充电宝", "electronics", 129.0,
                    "锂聚合物电芯 阻燃PC", "广东东莞", "20000mAh", "电立方",
                    ("CCC认证:2022011609483321",), "数据线"),
        CatalogItem("latex_pillow", "眠好天然乳胶枕", "乳胶枕", "home", 159.0,
                    "天然乳胶85%", "广东佛山", "60*40cm", "眠好",
                    gift="枕套", false_origin="泰国原装进口"),
        CatalogItem("bedding", "棉语全棉四件套1.8米床", "四件套", "home", 239.0,
                    "棉100%", "江苏南通", "1.8m床 四件套", "棉语", gift="枕芯一对"),
        CatalogItem("bp_monitor", "康维臂式电子血压计", "血压计", "medical_device", 189.0,
                    "ABS 袖带", "广东深圳", "臂围22-36cm", "康维",
                    ("医疗器械注册证:粤械注准20212070345",), "电池一组"),
    ),
    (  # 4 户外 + 饰品 + 母婴
        CatalogItem("shell_jacket", "野径三合一冲锋衣", "冲锋衣", "apparel", 359.0,
                    "聚酯纤维100%", "福建泉州", "S-3XL", "野径",
                    gift="速干毛巾", false_material="GORE-TEX面料"),
        CatalogItem("gold_chain", "金缘18K金锁骨链", "项链", "jewelry", 699.0,
                    "18K金 Au750", "深圳水贝", "45cm 约1.2g", "金缘",
                    gift="首饰盒", false_material="足金"),
        CatalogItem("camp_chair", "营地家折叠月亮椅", "折叠椅", "other", 89.0,
                    "铝合金 牛津布", "浙江永康", "承重150kg", "营地家", gift="收纳包"),
        CatalogItem("diapers", "贝柔超薄透气纸尿裤L码", "纸尿裤", "baby", 119.0,
                    "无纺布 高分子吸水树脂", "福建晋江", "L码 54片*2包", "贝柔",
                    gift="湿巾一包"),
        CatalogItem("jade_bangle", "玉见和田玉手镯", "手镯", "jewelry", 888.0,
                    "和田玉(青海料)", "青海格尔木", "圈口54-60", "玉见",
                    gift="鉴定证书", false_origin="新疆和田籽料"),
    ),
)

# Categories whose goods need a license on the link; an item without one is a violation.
LICENSED_CATEGORIES = frozenset({"food", "health_food", "drug", "medical_device", "cosmetics"})
MEDICAL_CLAIM_CATEGORIES = frozenset({"food", "health_food", "cosmetics"})

# --------------------------------------------------------------------------------------
# Anchor phrases. Slots: {short} {title} {brand} {price} {material} {origin} {spec} {gift} {n}.
# --------------------------------------------------------------------------------------

ITEM_SLOTS = ("{short}", "{title}", "{brand}", "{material}", "{origin}", "{spec}")

T_OPEN = (
    "家人们晚上好", "欢迎新进直播间的宝宝们", "新进来的家人们左上角点点关注", "刚进来的姐妹点个关注不迷路",
    "家人们把小红心点起来", "想要的扣1 我看看有多少人要", "扣1扣1 扣1的人多我就多上几单",
    "公屏上打出来你们想要的颜色", "没点关注的点点关注 开播第一时间提醒你", "家人们听我说",
    "姐妹们注意了啊", "来 我们看下一个", "今天直播间人好多啊", "谢谢家人们的小心心",
    "欢迎欢迎 老朋友们又来了", "主播今天嗓子有点哑 大家多包涵", "还在犹豫的家人们听我讲完",
    "后台的小伙伴准备一下", "助理把样品拿过来给大家看一下", "镜头拉近一点 给大家看看细节",
    "运营帮我看一下还有多少库存", "有问题打在公屏上 我一个一个回", "刚才没抢到的别着急",
    "大家帮我点点赞 点到一万赞我们抽个小福袋", "好 回答一下这位宝宝的问题", "看到有家人在问",
    "新来的宝宝可能不知道我们家", "咱们家是老店了 开了好多年", "我跟大家说实话啊",
    "家人们 我自己也在用", "这个我们直播间卖了好几万单了", "不着急 慢慢听我讲",
)

T_DESCRIBE = (
    "这款{short}是{brand}家的", "{brand}的{short} 很多家人都回购过", "今天给大家带来的是{title}",
    "看一下啊 这个{short} 成分是{material}", "材质这块 写的清清楚楚 {material}", "产地是{origin}的 正规厂家发货",
    "{origin}发货 家人们放心", "规格是{spec}", "{spec} 家人们看清楚再拍", "这是{brand}官方授权的",
    "这个{short}我们选品选了很久", "{short}的细节给大家看一下", "详情页里{material}都写着呢",
    "拍之前看一下规格 {spec}",
)

T_CATEGORY = {
    "apparel": ("上身效果特别显瘦", "一百六十斤的姐妹也能穿", "尺码是标准码 按平时穿的拍就行",
                "这个颜色特别显白", "版型很挺括 不挑身材", "腰线这里收得很好", "机洗也不会变形"),
    "cosmetics": ("质地很清爽 一抹就化开了", "敏感肌的姐妹先在耳后试一下", "上脸一点都不油",
                  "早晚各用一次就可以", "香味很淡 不刺鼻", "用完皮肤摸起来滑滑的"),
    "health_food": ("每天两粒 跟着饭吃", "保健食品不能代替药物 这个要说清楚", "适合经常熬夜的家人们",
                    "蓝帽子标志大家可以看一下"),
    "food": ("吃起来特别香 有嚼劲", "独立小包装 上班带着方便", "小朋友也爱吃", "开袋即食",
             "配料表特别干净", "我刚才试吃了 真的香", "保质期在详情页上"),
    "electronics": ("续航很长 充一次能用好几天", "安卓苹果都能用", "支持快充", "一年质保 有问题直接换",
                    "音质我自己听过 真的清楚"),
    "home": ("睡上去软软的 很回弹", "洗了不起球不掉色", "宿舍家里都能用", "一家人都能用得上"),
    "medical_device": ("一键测量 老人也会用", "测量前先安静坐五分钟", "家里有老人的可以备一个",
                       "说明书和注册证都在详情页"),
    "jewelry": ("上身特别有气质", "送女朋友送妈妈都合适", "带证书的 可以去检测", "日常戴洗澡摘下来就行"),
    "baby": ("超薄透气 宝宝屁屁不闷", "一晚上都不会漏", "腰围松紧很舒服", "新手爸妈可以先拍一包试试"),
    "other": ("折起来很小 放后备箱刚好", "野餐露营都能用", "承重很稳 大人坐也没问题"),
}

T_PRICE = (
    "到手价{price}", "今天直播间到手价{price}", "一单{price} 还包邮", "拍一单就是{price} 没有任何套路",
    "链接里就是{price} 家人们看好了", "{price}到手 还送{gift}", "只要{price}", "{price}块钱带回家",
    "今天直播间专属价{price}", "领券下单 到手{price}",
)

T_LINK = (
    "上链接", "三二一上车", "给我上链接", "{n}号链接 {n}号链接", "库存上了 抢", "小黄车{n}号",
    "点开购物车 {n}号链接就是", "准备好了吗 三 二 一 上车", "没抢到的打没抢到 我去申请加库存",
    "运营上链接", "链接已经上了 手慢无啊", "库存不多了 抓紧", "已经拍了的扣已拍",
)

T_SERVICE = (
    "四十八小时内发货", "全国包邮 偏远地区除外", "支持七天无理由退换", "送运费险 不喜欢直接退",
    "拍下备注直播间 优先发货", "下单的宝宝 客服会核对地址", "发的是顺丰", "发中通快递",
    "质检报告在详情页 大家可以看", "有任何问题找客服", "拍错了可以直接申请退款",
)

T_AFTER_PIN = ("好 下一个宝贝来了", "来看这一款", "给大家换一个链接", "这个是今天的重点款")
T_AFTER_PRICE_CHANGE = ("后台改好价了 现在到手{price}", "刚刚申请到了 现在只要{price}", "改价了家人们 {price}")

# --- planted anchor violations -------------------------------------------------------

V_ABSOLUTE = (
    "全网最低价", "我们家是{short}行业第一品牌", "这是史上最好用的{short}", "销量全国第一",
    "国家级品质", "顶级工艺 没有之一", "全网独一家", "绝无仅有的价格", "最便宜就在我们家",
    "这个效果是世界第一的",
)
V_MEDICAL = {
    "food": ("天天吃 降血压降血糖", "三高的老人吃了 血管都通了", "吃了能根治便秘", "每天一勺 能抗癌",
             "失眠的吃了一觉到天亮 比安眠药还管用"),
    "health_food": ("吃三个月 根治高血脂", "能代替降压药的", "专门治疗心脑血管病", "糖尿病人吃了能停药"),
    "cosmetics": ("根治痘痘 三天见效", "祛斑 永不反弹", "湿疹用了直接治好", "激素脸用一瓶就治愈"),
}
V_FALSE_PROMOTION = (
    "原价{fake_orig} 今天直接打一折", "下单就抽苹果手机 百分百中奖", "假一赔十 终身质保 坏了随时换新",
    "厂家清仓 以后再也没有这个价了", "前五十名下单全部免单", "今天拍的全部返现一百",
)
V_PRICE = ("只要{wrong}", "到手价{wrong}", "{wrong}块钱包邮带回家", "今天只卖{wrong}")
V_MATERIAL = ("这件是{false_material}的", "{false_material} 摸一下就知道", "我们家用的都是{false_material}")
V_ORIGIN = ("{false_origin}的 正宗", "正宗{false_origin} 不是国内那种", "原产地{false_origin}")
V_BANNED = (
    "有家人问仿真枪 过两天给大家上一款仿真枪 跟真的一模一样",
    "仿真枪的话私下问我 我们仓库有",
)

# --------------------------------------------------------------------------------------
# Viewer phrases.
# --------------------------------------------------------------------------------------

D_ORDER = (
    "已拍", "已拍{k}单", "拍了", "抢到了", "没抢到", "付款了", "已下单 什么时候发", "拍了两件 能合并发吗",
    "改地址找谁", "拍错了 已退款", "又拍了一单", "已拍 等发货", "终于抢到了", "已拍 第{k}次回购",
    "下单了下单了", "手慢了 没抢到",
)
D_PRAISE = (
    "主播好美", "主播好漂亮", "姐姐皮肤真好", "主播声音好好听", "好喜欢你们家", "回购第三次了",
    "上次买的{short}很好用", "质量很好 推荐给朋友了", "支持支持", "666", "6666666", "牛", "太划算了",
    "冲冲冲", "爱了爱了", "主播辛苦了", "讲得好清楚", "{short}收到了 很满意", "你们家东西真不错",
)
D_QUESTION = (
    "多少钱", "什么价", "有没有优惠", "有优惠券吗", "什么时候发货", "发什么快递", "包邮吗", "新疆包邮吗",
    "几号链接", "怎么拍", "还有库存吗", "能便宜点吗", "有赠品吗", "什么时候上链接", "怎么还不上",
    "讲一下{k}号", "求讲解{short}", "颜色有几种", "是正品吗", "有运费险吗", "七天无理由吗",
    "{short}多少钱", "这个{short}怎么卖", "能开发票吗", "还会补货吗",
)
D_CATEGORY = {
    "apparel": ("{h} {w}斤穿什么码", "{h}的个子穿会不会长", "V领的还有吗", "黑色还有吗", "起球吗",
                "会不会掉色", "偏大还是偏小"),
    "cosmetics": ("敏感肌能用吗", "孕妇能用吗", "油皮适合吗", "会搓泥吗", "保质期多久"),
    "health_food": ("一天吃几粒", "老人能吃吗", "有蓝帽吗"),
    "food": ("保质期多久", "辣不辣", "小孩能吃吗", "甜不甜", "QQ糖有吗", "一包多少克"),
    "electronics": ("支持苹果吗", "保修多久", "能带上飞机吗", "有几个颜色"),
    "home": ("一米五的床有吗", "会不会塌", "能机洗吗"),
    "medical_device": ("准不准", "有注册证吗", "老人好操作吗"),
    "jewelry": ("有证书吗", "会掉色吗", "可以刻字吗", "多重"),
    "baby": ("新生儿用什么码", "会红屁屁吗", "XL码有吗"),
    "other": ("重不重", "能折叠吗", "有几个颜色"),
}
D_CHATTER = (
    "来了", "来了来了", "第一次来", "关注了", "点赞", "打卡", "晚上好", "刚下班 来看看", "前排",
    "哈哈哈哈", "？？？", "111", "1", "扣1", "1111111", "在吗", "主播看我", "助理好可爱",
    "背景音乐叫什么", "等了好久", "带我一个", "好热闹", "刚来 错过了什么", "主播今天好早",
)
D_PREFIX = ("", "", "", "", "主播", "姐姐", "宝", "家人们 ", "主播主播 ")
D_SUFFIX = ("", "", "", "", "？", "!!", "~", "哈哈", "😍", "👍", "🔥🔥", "❤️", "🌹", "😂", "🙏",
            "💕", "[赞]", "[爱心]", "[玫瑰]")
D_EMOJI_ONLY = ("🔥🔥🔥", "👍👍", "😍😍😍", "🌹🌹", "[赞][赞][赞]", "❤️❤️❤️", "🎉🎉")

# --- planted viewer violations -------------------------------------------------------

V_CONTACT = (
    "加.微.信 {wx}", "vx:{wx}", "VX {wx} 内部价", "➕V {wx}", "+v：{wx} 便宜出", "薇信{wx} 有货源",
    "威❤ {wx}", "扣扣 {qq_cn}", "QQ {qq_spaced}", "{phone_spaced} 要的打电话", "电话 {phone_spaced}",
    "想要便宜的 加我 V {wx}", "代购找我 wei xin {wx}", "进群{qq}领内部券", "同款低价 加q {qq_spaced}",
)
# Split handles: part one alone hints, part two completes the handle (needs the recent messages).
V_CONTACT_SPLIT = (
    ("要的加我v", "{wx}"), ("我的薇是", "{wx} 备注直播"), ("便宜出 电话 {phone_head}", "{phone_tail} 找我"),
    ("加扣扣", "{qq_cn}"),
)
V_OFFLINE_PAYMENT = (
    "私聊转账更便宜", "不走平台 支付宝直接转我 便宜二十", "线下交易更便宜 懂的来", "私下转账给你少三十",
    "要的别在这拍 直接转账给我",
)
V_PLATFORM_REDIRECT = (
    "某宝搜同款 才一半价格", "去拼夕夕买 便宜多了", "闲鱼上有一模一样的 去那边拍", "下载淘淘乐app 买更便宜",
)

_CN_DIGITS = "零一二三四五六七八九"
_CONTACT_KIND = ("contact_handle", "offline_payment", "platform_redirect")
_CONTACT_WEIGHTS = (0.76, 0.12, 0.12)
# Anchors take turns through these kinds (from a random start), so even a short session
# shows each kind the pinned items allow; inapplicable kinds fall back below.
_TRANSCRIPT_KINDS = ("absolute_term", "price", "medical_claim", "material_or_origin", "false_promotion")

# --------------------------------------------------------------------------------------
# Small linguistic helpers (how numbers are spoken and typed).
# --------------------------------------------------------------------------------------


def _cn_int(n: int) -> str:
    """Spoken form of 0 <= n < 10000, e.g. 199 -> 一百九十九, 109 -> 一百零九, 15 -> 十五."""
    if n == 0:
        return "零"
    out, zero = "", False
    for unit_value, unit in ((1000, "千"), (100, "百"), (10, "十"), (1, "")):
        digit = n // unit_value % 10
        if digit == 0:
            zero = bool(out)
            continue
        if zero:
            out += "零"
            zero = False
        out += ("" if (digit == 1 and unit == "十" and not out) else _CN_DIGITS[digit]) + unit
    return out


def _spoken_price(price: float, rng: random.Random) -> str:
    """ASR renders prices as digits most of the time, sometimes as Chinese numerals."""
    whole, tenths = int(price), round(price * 10) % 10
    if rng.random() < 0.3 and whole < 10000:
        return _cn_int(whole) + (f"块{_CN_DIGITS[tenths]}" if tenths else "")
    return f"{whole}.{tenths}" if tenths else str(whole)


def _nice_price(x: float) -> float:
    """Round to a retail-looking price ending in 9 (99, 149, 9.9)."""
    if x < 20:
        return max(round(int(x) + 0.9, 1), 1.9)
    return float(max(int((x + 1) // 10) * 10 - 1, 19))


def _digits_spaced(digits: str, rng: random.Random) -> str:
    style = rng.randrange(4)
    if style == 0:  # 138 1234 5678
        return " ".join(digits[i:j] for i, j in ((0, 3), (3, 7), (7, None)))
    if style == 1:  # 1 3 8 1 2 ...
        return " ".join(digits)
    if style == 2:  # 138-1234-5678
        return "-".join(digits[i:j] for i, j in ((0, 3), (3, 7), (7, None)))
    return "".join(_CN_DIGITS[int(c)] for c in digits)  # 一三八一二三四五六七八


def _new_handle(rng: random.Random) -> dict[str, str]:
    """A consistent fake identity: one WeChat id, one QQ number, one phone number."""
    letters = "".join(rng.choice("abcdefghjkmnpqrstuvwxyz") for _ in range(rng.randint(3, 5)))
    wx = letters + str(rng.randint(100, 9999))
    qq = str(rng.randint(10000000, 999999999))
    phone = rng.choice(("138", "139", "150", "177", "186", "199")) + f"{rng.randrange(10**8):08d}"
    return {"wx": wx, "qq": qq, "phone": phone}


def _fill_handle(template: str, handle: dict[str, str], rng: random.Random) -> str:
    return template.format(
        wx=handle["wx"], qq=handle["qq"],
        qq_cn="".join(_CN_DIGITS[int(c)] for c in handle["qq"]),
        qq_spaced=_digits_spaced(handle["qq"], rng) if rng.random() < 0.5 else handle["qq"],
        phone_spaced=_digits_spaced(handle["phone"], rng),
        phone_head=" ".join((handle["phone"][:3], handle["phone"][3:7])),
        phone_tail=handle["phone"][7:],
    )


# --------------------------------------------------------------------------------------
# Room state and event builders.
# --------------------------------------------------------------------------------------


@dataclass(slots=True)
class PendingSplit:
    user_id: str
    due_ts: float
    text: str


@dataclass(slots=True)
class Room:
    index: int
    room_id: str
    anchor_id: str
    merchant_id: str
    catalog: tuple[CatalogItem, ...]
    popularity: float
    next_item: int = 0
    item: CatalogItem | None = None
    link_no: int = 1
    just_pinned: bool = False
    price_changed: bool = False
    offender: str | None = None
    offender_handle: dict[str, str] = field(default_factory=dict)
    pending: PendingSplit | None = None
    banned_due: list[float] = field(default_factory=list)
    violation_turn: int = 0


def _item_dict(room: Room, item: CatalogItem) -> dict[str, Any]:
    return {
        "item_id": f"{item.key}-{room.index + 1:02d}",
        "title": item.title,
        "price": item.price,
        "category": item.category,
        "attributes": {"material": item.material, "origin": item.origin, "spec": item.spec,
                       "brand": item.brand},
        "licenses": list(item.licenses),
    }


def _unlicensed(item: CatalogItem) -> bool:
    return item.category in LICENSED_CATEGORIES and not item.licenses


class _Session:
    """Per-call generator state; one instance per :func:`generate` call."""

    def __init__(self, rooms: int, seconds: float, seed: int, viewers: int, base_ts: float) -> None:
        self.rng = random.Random(seed)
        self.seed = seed
        self.viewers = viewers
        self.uid_width = max(6, len(str(viewers - 1)))
        self.base_ts = base_ts
        self.n = 0
        width = max(2, len(str(rooms)))
        self.rooms = [
            Room(index=k, room_id=f"room-{k + 1:0{width}d}", anchor_id=f"anchor-{k + 1:0{width}d}",
                 merchant_id=f"merchant-{k + 1:0{width}d}", catalog=THEMES[k % len(THEMES)],
                 popularity=self.rng.uniform(0.5, 2.0), next_item=k // len(THEMES),
                 violation_turn=self.rng.randrange(len(_TRANSCRIPT_KINDS)))
            for k in range(rooms)
        ]
        # One or two viewers who keep posting contact handles, to show escalation.
        for room in self.rooms[:2]:
            room.offender = self._user_id(self.rng.randrange(viewers))
            room.offender_handle = _new_handle(self.rng)
        for room in self.rooms:
            if room.index % len(THEMES) == BANNED_ROOM:
                room.banned_due = [base_ts + seconds * f for f in BANNED_AT]
        # Cumulative weights once: choices() would re-add them for every event.
        self.room_cum_weights = list(itertools.accumulate(r.popularity for r in self.rooms))
        self.product_turn = 0

    def next_product_room(self) -> Room:
        # Anchors switch links at a steady pace, so product operations visit rooms in turn.
        self.product_turn += 1
        return self.rooms[self.product_turn % len(self.rooms)]

    # -- ids ------------------------------------------------------------------------------

    def _event_id(self) -> str:
        self.n += 1
        return f"{self.seed}-{self.n}"

    def _user_id(self, idx: int) -> str:
        return f"u{idx:0{self.uid_width}d}"

    def _random_viewer(self) -> str:
        # Skewed: a few regulars post a lot, the long tail posts once.
        return self._user_id(int(self.viewers * self.rng.random() ** 1.5))

    # -- product --------------------------------------------------------------------------

    def _product(self, room: Room, ts: float, op: str) -> dict[str, Any]:
        assert room.item is not None
        return {"event_id": self._event_id(), "room_id": room.room_id, "merchant_id": room.merchant_id,
                "ts": ts, "op": op, "item": _item_dict(room, room.item), "type": "product"}

    def pin_next(self, room: Room, ts: float) -> dict[str, Any]:
        room.item = room.catalog[room.next_item % len(room.catalog)]
        room.next_item += 1
        room.link_no = room.next_item
        room.just_pinned, room.price_changed = True, False
        return self._product(room, ts, "pin")

    def product_op(self, room: Room, ts: float) -> Iterator[dict[str, Any]]:
        assert room.item is not None
        if self.rng.random() < SWITCH_P:
            yield self._product(room, ts, "unpin")
            yield self.pin_next(room, ts)
            return
        base = room.catalog[(room.next_item - 1) % len(room.catalog)].price
        new_price = base if room.item.price != base else _nice_price(base * self.rng.uniform(0.8, 0.95))
        room.item = replace(room.item, price=new_price)
        room.price_changed = True
        yield self._product(room, ts, "update")

    # -- transcript -----------------------------------------------------------------------

    def _slots(self, room: Room) -> dict[str, Any]:
        item = room.item
        assert item is not None
        return {"short": item.short, "title": item.title, "brand": item.brand, "material": item.material,
                "origin": item.origin, "spec": item.spec, "gift": item.gift, "n": room.link_no,
                "price": _spoken_price(item.price, self.rng)}

    def _violation_fragment(self, room: Room) -> tuple[str, dict[str, str], str]:
        item = room.item
        assert item is not None
        rng = self.rng
        kind = _TRANSCRIPT_KINDS[room.violation_turn % len(_TRANSCRIPT_KINDS)]
        room.violation_turn += 1
        # Fall back to a kind the pinned item can carry.
        if kind == "medical_claim" and item.category not in MEDICAL_CLAIM_CATEGORIES:
            kind = "absolute_term"
        if kind == "material_or_origin" and not (item.false_material or item.false_origin):
            kind = "price"
        if kind == "absolute_term":
            return rng.choice(V_ABSOLUTE), _label("prohibited_claim", "absolute_term"), "absolute term"
        if kind == "medical_claim":
            return (rng.choice(V_MEDICAL[item.category]), _label("prohibited_claim", "medical_claim"),
                    f"medical claim on {item.category}")
        if kind == "false_promotion":
            fake = _spoken_price(_nice_price(item.price * rng.uniform(4, 8)), rng)
            return (rng.choice(V_FALSE_PROMOTION).replace("{fake_orig}", fake),
                    _label("prohibited_claim", "false_promotion"), "false promotion")
        if kind == "price":
            wrong = _nice_price(item.price * rng.uniform(0.4, 0.65))
            return (rng.choice(V_PRICE).replace("{wrong}", _spoken_price(wrong, rng)),
                    _label("link_mismatch", "price"), f"spoken price {wrong:g} vs link {item.price:g}")
        if item.false_material and (not item.false_origin or rng.random() < 0.5):
            return (rng.choice(V_MATERIAL).replace("{false_material}", item.false_material),
                    _label("link_mismatch", "material"),
                    f"claims {item.false_material}, link says {item.material}")
        return (rng.choice(V_ORIGIN).replace("{false_origin}", item.false_origin),
                _label("link_mismatch", "origin"), f"claims {item.false_origin}, link says {item.origin}")

    def transcript(self, room: Room, ts: float) -> dict[str, Any]:
        rng = self.rng
        item = room.item
        assert item is not None
        slots = self._slots(room)
        parts: list[str] = []
        expect: list[dict[str, str]] = []
        notes: list[str] = []
        if room.banned_due and ts >= room.banned_due[0]:
            room.banned_due.pop(0)
            parts = [rng.choice(T_OPEN), rng.choice(V_BANNED)]
            expect.append(_label("prohibited_claim", "banned_goods"))
            notes.append("banned goods")
        else:
            if room.just_pinned:
                parts += [rng.choice(T_AFTER_PIN), rng.choice(T_DESCRIBE), rng.choice(T_LINK)]
            elif room.price_changed:
                parts += [rng.choice(T_AFTER_PRICE_CHANGE), rng.choice(T_LINK)]
            elif rng.random() < 0.7:
                parts += rng.sample((rng.choice(T_DESCRIBE), rng.choice(T_CATEGORY[item.category]),
                                     rng.choice(T_PRICE)), k=2)
                if rng.random() < 0.4:
                    parts.append(rng.choice(T_LINK + T_SERVICE))
            else:
                parts += [rng.choice(T_OPEN), rng.choice(T_SERVICE + T_CATEGORY[item.category])]
            if rng.random() < TRANSCRIPT_VIOLATION_P:
                fragment, label, note = self._violation_fragment(room)
                # Keep the line free of the true price so a price lie is not self-refuting.
                parts = [p for p in parts if "{price}" not in p][:1] + [fragment]
                expect.append(label)
                notes.append(note)
            room.just_pinned = room.price_changed = False
        if _unlicensed(item) and any(slot in p for p in parts for slot in ITEM_SLOTS):
            expect.append(_label("link_mismatch", "missing_license"))
            notes.append(f"{item.category} item without license")
        sep = rng.choice(("，", " ", " ", "，"))
        event: dict[str, Any] = {
            "event_id": self._event_id(), "room_id": room.room_id, "anchor_id": room.anchor_id, "ts": ts,
            "text": sep.join(p.format(**slots) for p in parts), "type": "transcript", "expect": expect,
        }
        if notes:
            event["note"] = "; ".join(notes)
        return event

    # -- danmaku --------------------------------------------------------------------------

    def _benign_text(self, room: Room) -> str:
        rng = self.rng
        item = room.item
        assert item is not None
        pool = rng.choices((D_ORDER, D_PRAISE, D_QUESTION, D_CATEGORY[item.category], D_CHATTER, D_EMOJI_ONLY),
                           (0.2, 0.18, 0.22, 0.12, 0.24, 0.04))[0]
        core = rng.choice(pool).format(short=item.short, k=rng.randint(1, 5), h=rng.randint(150, 175),
                                       w=rng.randint(85, 160))
        if pool is D_EMOJI_ONLY:
            return core
        prefix = "" if core.startswith("主播") else rng.choice(D_PREFIX)
        return prefix + core + rng.choice(D_SUFFIX)

    def _violating(self, room: Room, ts: float) -> tuple[str, str, dict[str, str], str]:
        """(user_id, text, label, note) of a planted viewer violation."""
        rng = self.rng
        kind = rng.choices(_CONTACT_KIND, _CONTACT_WEIGHTS)[0]
        label = _label("offline_trade_lure", kind)
        if kind == "offline_payment":
            return self._random_viewer(), rng.choice(V_OFFLINE_PAYMENT), label, "offline payment"
        if kind == "platform_redirect":
            return self._random_viewer(), rng.choice(V_PLATFORM_REDIRECT), label, "platform redirect"
        if room.offender and rng.random() < OFFENDER_SHARE:
            user, handle, note = room.offender, room.offender_handle, "repeat offender contact handle"
        else:
            user, handle, note = self._random_viewer(), _new_handle(rng), "contact handle"
        if room.pending is None and rng.random() < SPLIT_SHARE:
            first, second = rng.choice(V_CONTACT_SPLIT)
            room.pending = PendingSplit(user, ts + rng.uniform(2, 8), _fill_handle(second, handle, rng))
            return user, _fill_handle(first, handle, rng), label, f"{note}, split 1/2"
        return user, _fill_handle(rng.choice(V_CONTACT), handle, rng), label, note

    def danmaku(self, room: Room, ts: float) -> dict[str, Any]:
        expect: list[dict[str, str]] = []
        note = ""
        pending = room.pending
        if pending is not None and ts >= pending.due_ts:
            room.pending = None
            user, text, note = pending.user_id, pending.text, "contact handle, split 2/2 (see recent)"
            expect.append(_label("offline_trade_lure", "contact_handle"))
        elif self.rng.random() < DANMAKU_VIOLATION_P:
            user, text, label, note = self._violating(room, ts)
            expect.append(label)
        else:
            user, text = self._random_viewer(), self._benign_text(room)
        event: dict[str, Any] = {"event_id": self._event_id(), "room_id": room.room_id, "user_id": user,
                                 "ts": ts, "text": text, "type": "danmaku", "expect": expect}
        if note:
            event["note"] = note
        return event


def generate(rooms: int = 5, seconds: float = 540.0, rate_per_s: float = 4.0, seed: int = 7,
             viewers: int = 2000, base_ts: float = DEFAULT_BASE_TS) -> Iterator[dict[str, Any]]:
    """Stream a session of ``rooms`` rooms lasting ``seconds``, ~``rate_per_s`` events per second
    in total, sorted by ``ts`` (starting at ``base_ts``). Lazy: nothing is generated before the
    first ``next()``, and memory does not grow with the number of events or viewers."""
    if rooms < 1 or seconds <= 0 or rate_per_s <= 0 or viewers < 1:
        raise ValueError("rooms, seconds, rate_per_s and viewers must be positive")
    s = _Session(rooms, seconds, seed, viewers, base_ts)
    rng = s.rng
    # Draw weights such that *emitted* events follow MIX (a product draw emits >1 event).
    types = ("danmaku", "transcript", "product")
    weights = (MIX["danmaku"], MIX["transcript"], MIX["product"] / PRODUCT_EVENTS_PER_OP)
    cum_weights = list(itertools.accumulate(weights))
    draw_rate = rate_per_s * sum(weights)
    end = base_ts + seconds

    for room in s.rooms:  # every room opens with its first link on screen
        yield s.pin_next(room, base_ts)
    ts = t = base_ts
    while True:
        ts += rng.expovariate(draw_rate)
        if ts >= end:
            break
        t = round(ts, 3)
        kind = rng.choices(types, cum_weights=cum_weights)[0]
        if kind == "danmaku":
            yield s.danmaku(rng.choices(s.rooms, cum_weights=s.room_cum_weights)[0], t)
        elif kind == "transcript":  # anchors talk at the same pace whatever the audience
            yield s.transcript(rng.choice(s.rooms), t)
        else:
            yield from s.product_op(s.next_product_room(), t)
    for room in s.rooms:  # finish any split handle so its first half is never orphaned
        if room.pending is not None:
            room.pending.due_ts = t
            yield s.danmaku(room, t)


def summarize(events: Iterable[dict[str, Any]]) -> dict[str, Any]:
    """Counts by type, by room and by planted violation, for the CLI report."""
    by_type: Counter[str] = Counter()
    by_room: Counter[str] = Counter()
    violations: Counter[str] = Counter()
    for e in events:
        by_type[e["type"]] += 1
        by_room[f'{e["room_id"]}/{e["type"]}'] += 1
        for label in e.get("expect", ()):
            violations[f'{label["detector"]}/{label["category"]}'] += 1
    return {"by_type": dict(sorted(by_type.items())), "by_room": dict(sorted(by_room.items())),
            "violations": dict(sorted(violations.items()))}


def _write(events: Iterable[dict[str, Any]], out: BinaryIO) -> Iterator[dict[str, Any]]:
    for event in events:
        out.write(orjson.dumps(event) + b"\n")
        yield event


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--rooms", type=int, default=5)
    p.add_argument("--seconds", type=float, default=540.0)
    p.add_argument("--rate", type=float, default=4.0, help="events per second, all rooms together")
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--viewers", type=int, default=2000)
    p.add_argument("--base-ts", type=float, default=DEFAULT_BASE_TS)
    p.add_argument("--out", default="-", help="JSONL file, '-' for stdout")
    p.add_argument("--stats", action="store_true", help="print counts to stderr")
    a = p.parse_args(argv)
    out = sys.stdout.buffer if a.out == "-" else open(a.out, "wb")
    try:
        stats = summarize(_write(generate(a.rooms, a.seconds, a.rate, a.seed, a.viewers, a.base_ts), out))
    finally:
        if out is not sys.stdout.buffer:
            out.close()
    if a.stats:
        sys.stderr.write(orjson.dumps(stats, option=orjson.OPT_INDENT_2).decode() + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
