"""offline_trade_lure: contact handles, off-platform payment, other-platform redirects."""
from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from detectors.base import DetectContext, Finding, PriorMessage
from detectors.handles import mobile_precheck
from detectors.lexicon import LexiconError
from detectors.normalize import CHINESE_DIGITS, normalize
from detectors.offline_trade_lure import OfflineTradeLureDetector

LEXICONS = Path(__file__).resolve().parent.parent / "lexicons"


@pytest.fixture(scope="module")
def detector() -> OfflineTradeLureDetector:
    return OfflineTradeLureDetector.load(LEXICONS)


def ctx(text: str, recent: tuple[str, ...] = ()) -> DetectContext:
    return DetectContext(
        kind="danmaku", event_id="cur", room_id="r1", subject_id="u1", ts=100.0, text=text,
        recent=tuple(PriorMessage(f"p{i}", 90.0 + i, t) for i, t in enumerate(recent)))


def check_evidence(f: Finding, text: str) -> None:
    s, e = f.span
    assert 0 <= s < e <= len(text)
    assert text[s:e] == f.matched
    assert f.rule_id and f.legal_basis.startswith("标准6.4.5(7)")


POSITIVES = [
    # (text, category, rule_id or None for "any rule", handle value or None)
    ("加微信", "contact_handle", "contact.wechat", None),
    ("加威信", "contact_handle", "contact.wechat.weixin_prestige", None),  # 威信 only with 加
    ("薇信", "contact_handle", "contact.wechat.weixin_violet", None),  # evasion spelling, alone
    ("加V信", "contact_handle", "contact.wechat.vxin", None),
    ("vx多少", "contact_handle", "contact.wechat.vx", None),  # vx + asking cue
    ("wx多少", "contact_handle", "contact.wechat.wx", None),
    ("v❤我", "contact_handle", "contact.wechat.v_me", None),  # emoji dropped → v我
    ("有绿泡泡吗", "contact_handle", "contact.wechat.green_bubble", None),
    ("➕V", "contact_handle", "contact.wechat.v", None),  # ➕ folds to +
    ("加V", "contact_handle", "contact.wechat.v", None),
    ("+v私聊", "contact_handle", "contact.wechat.v", None),
    ("加薇信", "contact_handle", None, None),  # sound-alike 薇
    ("佳微芯", "contact_handle", "contact.wechat", None),  # 佳→加, 芯→信 by pinyin
    ("嘉我 微", "contact_handle", "contact.wechat.wei", None),  # 嘉我→加我, spaced
    ("➕薇", "contact_handle", "contact.wechat.wei_violet", None),
    ("加.微.信", "contact_handle", "contact.wechat", None),  # dotted
    ("加 我 v 信", "contact_handle", "contact.wechat.vxin", None),  # spaced
    ("加蔻蔻", "contact_handle", "contact.qq.koukou", None),  # 蔻 sounds like 扣
    ("Q号", "contact_handle", "contact.qq.q_hao", None),
    ("加QQ", "contact_handle", "contact.qq", None),
    ("企鹅 123456789", "contact_handle", "handle.qq", "123456789"),
    ("扣扣 一二三四五六七八九", "contact_handle", "handle.qq", "123456789"),  # Chinese digits
    ("群号 87654321 进来", "contact_handle", "handle.qq", "87654321"),
    ("vx:abc123", "contact_handle", "handle.wechat_id", "abc123"),
    ("wx号 abc_123", "contact_handle", "handle.wechat_id", "abc123"),
    ("微信 13812345678", "contact_handle", "handle.mobile", "13812345678"),
    ("电话 一三八 一二三四 五六七八", "contact_handle", "handle.mobile", "13812345678"),
    ("一三八 一二三四 五六七八", "contact_handle", "handle.mobile", "13812345678"),  # bare number
    ("①③⑧①②③④⑤⑥⑦⑧", "contact_handle", "handle.mobile", "13812345678"),  # circled digits
    ("138-1234-5678", "contact_handle", "handle.mobile", "13812345678"),
    ("打 138 1234 5678", "contact_handle", "handle.mobile", "13812345678"),
    ("看我主页联系方式", "contact_handle", "redirect_contact.profile", None),
    ("简介有群号", "contact_handle", "redirect_contact.bio", None),
    ("去某宝下单", "platform_redirect", "redirect.mou_bao", None),
    ("某鱼搜我", "platform_redirect", "redirect.mou_yu", None),
    ("去闲鱼买更便宜", "platform_redirect", "redirect.xianyu", None),
    ("拼夕夕下单", "platform_redirect", "redirect.pin_xixi", None),
    ("来我抖音主页", "platform_redirect", "redirect.douyin", None),
    ("来我快手主页看看", "platform_redirect", "redirect.kuaishou", None),
    ("去微信小程序下单", "platform_redirect", "redirect.wechat_miniprogram", None),
    ("私聊转账 便宜", "offline_payment", "offline.private_chat", None),  # 私聊 + money
    ("要的私我发价格", "offline_payment", "offline.dm_me", None),
    ("zfb转 打五折", "offline_payment", "offline.zfb", None),
    ("不要走平台了 私下转账", "offline_payment", "offline.transfer", None),  # 不要 is too far from 转账
    ("可以转账", "offline_payment", "offline.transfer", None),
    ("支付宝直接转", "offline_payment", "offline.alipay_direct_transfer", None),
    ("不走平台", "offline_payment", "offline.skip_platform", None),
    ("线下交易更便宜", "offline_payment", "offline.offline_deal", None),
    ("下单备注微信号返现", "offline_payment", "offline.remark_wechat", None),
    ("加我拉你进群优惠", "offline_payment", "offline.pull_into_group", None),
    ("加微 abc123", "contact_handle", "handle.wechat_id", "abc123"),
]


@pytest.mark.parametrize("text,category,rule_id,handle", POSITIVES)
def test_positive(detector, text, category, rule_id, handle):
    findings = detector.detect(ctx(text))
    hits = [f for f in findings if f.category == category and (rule_id is None or f.rule_id == rule_id)]
    assert hits, f"{text!r}: {[f.to_dict() for f in findings]}"
    for f in findings:
        check_evidence(f, text)
    if handle is not None:
        assert hits[0].details["handle"] == handle


NEGATIVES = [
    "可以用微信支付吗",  # on-platform checkout option
    "大家微信支付就行",  # 家 sounds like 加, but 大家 is a word
    "微信小程序订单查不到",  # 微信 as the topic, no lure
    "参加微信抽奖",  # 加 inside 参加
    "扣扣子",  # buttoning up
    "这个扣子掉了",
    "V领毛衣有吗",
    "加个V领的",  # V领 exception
    "薇诺娜的面霜",  # brand
    "加薇诺娜的链接",
    "QQ糖好吃吗",
    "99元包邮吗",
    "一百二十九",  # spoken price
    "订单号 2023112712345678",  # long digit run is not a mobile
    "拍3件送1件",
    "线下门店也是这个价吗",  # a question about offline stores
    "私人定制款",
    "2023年11月27日 19:30 开播",
    "1号链接还有吗",
    "加购物车了",
    "加入粉丝团",
    "加粉丝群",  # on-platform fan group
    "这个价位心动吗",  # 价位心 sounds like 加微信 but no character is spelled
    "加微辣",  # food: 微辣
    "主播很有威信",  # 威信 = prestige
    "京东买的更贵",  # price comparison, not a redirect
    "直接转到3号链接",
    "主播vip群",
    "扣1",  # live-stream "type 1"
    "一二三四五六七八九十",
    "加油加油",
    "身高165体重110穿什么码",
    "wx",  # a bare platform name carries no contact (split fragment)
    "懂的私我",  # 私我 with no deal or money nearby: on-platform DM
    "私信我一个个回，售后找平台客服",
    "不要私下转账",  # warning: negation just before
    "让你加微信交钱的都是骗子",  # warning: 骗子 after
    "比某宝便宜吗",  # price comparison
    "去年淘宝买过一个",  # 去 is part of 去年
    "车里家里手机上都能听",  # 家 (≈加) is part of 家里
]


@pytest.mark.parametrize("text", NEGATIVES)
def test_negative(detector, text):
    assert detector.detect(ctx(text)) == []


SPLIT = [
    # (recent messages, current, category, rule_id, matched in current)
    (("加", "V"), "abc123", "contact_handle", "handle.wechat_id", "abc123"),  # 加 / V / abc123
    (("138", "1234"), "5678", "contact_handle", "handle.mobile", "5678"),
    (("我的vx是",), "abc123", "contact_handle", "handle.wechat_id", "abc123"),
    (("不走",), "平台", "offline_payment", "offline.skip_platform", "平台"),
]


@pytest.mark.parametrize("recent,text,category,rule_id,matched", SPLIT)
def test_split_messages(detector, recent, text, category, rule_id, matched):
    findings = detector.detect(ctx(text, recent))
    assert [(f.category, f.rule_id, f.matched) for f in findings] == [(category, rule_id, matched)]
    f = findings[0]
    check_evidence(f, text)
    assert f.details["joined"] is True
    assert f.details["event_ids"][-1] == "cur"


SPLIT_NEGATIVES = [
    (("vx abc123",), "谢谢主播"),  # the lure is complete in an earlier message: not reported again
    (("加",), "油"),  # 加油
    (("你好",), "主播好"),
    (("加",), "微辣"),
    (("加",), "V"),  # 加 / V is a fragment until the handle arrives
    (("加我",), "wx"),
]


@pytest.mark.parametrize("recent,text", SPLIT_NEGATIVES)
def test_split_negative(detector, recent, text):
    assert detector.detect(ctx(text, recent)) == []


def test_current_message_alone_wins_over_join(detector):
    # The current message has its own finding: no joined scan, no joined details.
    findings = detector.detect(ctx("vx abc123", ("加",)))
    assert findings and all("joined" not in f.details for f in findings)


def test_wechat_id_stops_at_space(detector):
    # normalize glues "abc123 thanks"; the original still separates the id from the next word.
    (f,) = detector.detect(ctx("vx abc123 thanks"))
    assert (f.matched, f.details["handle"]) == ("vx abc123", "abc123")


@pytest.mark.parametrize(("text", "handle"), [
    ("加v ly qq 66 拿货", "lyqq66"),  # chunks too short to be an id alone: one spaced-out id
    ("微信 tao hua 2024", "taohua2024"),
    ("vx abcdef gh", "abcdef"),  # a whole id first: the next word is not part of it
])
def test_spaced_out_wechat_id_is_joined(detector, text, handle):
    (f,) = detector.detect(ctx(text))
    assert f.details["handle"] == handle


def test_bad_lexicon_names_file_and_line(tmp_path):
    text = (LEXICONS / "offline_trade_lure.yaml").read_text(encoding="utf-8")
    (tmp_path / "offline_trade_lure.yaml").write_text(
        text.replace("pattern: qq\n    kind: handle", "pattern: icq\n    kind: handle"), encoding="utf-8")
    with pytest.raises(LexiconError, match=r"offline_trade_lure\.yaml:\d+: .*handle\.qq"):
        OfflineTradeLureDetector.load(tmp_path)


_LURE_BITS = st.sampled_from(["加", "微", "信", "v", "x", "q", "扣", "群号", "主页", "1", "3", "8", "一", "三",
                              "八", "-", " ", ".", "\n", "❤", "➕", "薇", "某宝", "下单", "私", "聊", "_", "a"])


@settings(max_examples=300, deadline=None)
@given(text=st.one_of(st.text(max_size=40), st.lists(_LURE_BITS, max_size=20).map("".join)),
       recent=st.lists(st.one_of(st.text(max_size=15), st.lists(_LURE_BITS, max_size=6).map("".join)), max_size=3))
def test_spans_always_point_into_current_text(detector, text, recent):
    for f in detector.detect(ctx(text, tuple(recent))):
        s, e = f.span
        assert 0 <= s <= e <= len(text)
        assert text[s:e] == f.matched


def test_mobile_precheck_sees_every_digit_of_the_digit_view(detector: OfflineTradeLureDetector) -> None:
    # Both views are char-local (tests/test_normalize.py), so every code point checked once
    # proves that no mobile number of the digit-folded view can hide from the precheck.
    every_char = "".join(map(chr, range(0x30000)))
    plain, digits = normalize(every_char).text, normalize(every_char, fold_digits=True).text
    assert len(plain) == len(digits)
    assert all(p.isascii() and p.isdigit() or p in CHINESE_DIGITS
               for p, d in zip(plain, digits) if d.isascii() and d.isdigit())
    folder = detector._folder
    digit_run = mobile_precheck(folder.fold)
    assert digit_run.search(folder.fold(normalize("电话 一三八 1234 五六七八").text))
    assert not digit_run.search(folder.fold(normalize("三二一上车 1号链接 99元").text))


# ---- generalising mechanisms: each one a kind of phrasing, not a corpus line ----------------

GENERAL_POSITIVES = [
    # (text, category) — a finding of that category is expected
    ("想要的去🐟搜店名", "platform_redirect"),  # emoji stands for 闲鱼
    ("同款🍠上更便宜 去那边看看", "platform_redirect"),  # emoji for 小红书, redirect said after it
    ("有事找🐧 三二一四五 六七八九", "contact_handle"),  # emoji for QQ, digits spelled out
    ("客服座机 零二一 五四三二 一二三四", "contact_handle"),  # landline after a handle-only word
    ("订购热线 4008123456", "contact_handle"),  # 400 service number
    ("交流群 ⑨⑧⑦⑥⑤④③ 欢迎", "contact_handle"),  # group number in circled digits
    ("vx同名 私聊", "contact_handle"),  # handle is the user name
    ("价格都在简介里 有事打我电话", "contact_handle"),  # profile pointer with a call request
    ("京东 同一款 才卖一半 去那买", "platform_redirect"),  # pointer back at the platform
    ("这里贵 走个拼多多", "platform_redirect"),  # 走 as a redirect verb
    ("别在这买了 去淘宝", "platform_redirect"),  # 别 is part of the redirect, not a warning
    ("去 tao宝 搜 小王鞋铺", "platform_redirect"),  # platform half in pinyin
    ("下载我们家的优选APP 首单立减", "platform_redirect"),  # own app
    ("货款打到我的银行卡上", "offline_payment"),  # transfer to a named account
    ("定金先付定金到我个人账户", "offline_payment"),
    ("批量要的 发个红包给我 我安排", "offline_payment"),  # red packet as payment
    ("可以现金结账 比拍链接省", "offline_payment"),
    # round 3: accounts by bank, cash for a discount or in person, wallets paid to the speaker
    ("货款转到我建行卡上就行", "offline_payment"),
    ("要的直接打我卡里 明天发", "offline_payment"),
    ("卡号我私发给你 你转过来", "offline_payment"),
    ("付现金的话能便宜五十", "offline_payment"),
    ("同城的当面给现金 我骑车送过去", "offline_payment"),
    ("你payme俾我 我今日寄", "offline_payment"),
    ("定金五百打到我支付宝", "offline_payment"),
    ("WeChat: tea_lover_99 有老茶", "contact_handle"),
    ("扣我 三四五六七八九零", "contact_handle"),
]


@pytest.mark.parametrize(("text", "category"), GENERAL_POSITIVES)
def test_general_mechanisms_find_lures(detector: OfflineTradeLureDetector, text: str, category: str) -> None:
    found = [f for f in detector.detect(ctx(text)) if f.category == category]
    assert found, text
    for f in found:
        check_evidence(f, text)


GENERAL_NEGATIVES = [
    "今天的🐟好新鲜",  # emoji fish with no redirect around it
    "🐧抱枕还有吗",  # emoji penguin, no number
    "我们群里每天抽福袋",  # 群 without a number
    "座机也能打进来问售后吗",  # handle-only word, no number
    "订单号 0213456789123456",  # a long number glued to more digits is no landline
    "银行卡支付也可以",  # paying by card at checkout
    "直播间抢红包啦",  # the room's own red packets
    "主播 茶叶能私下交易吗",  # a viewer asking
    "可以私下转账嘛 我买得多",  # a viewer asking, sentence-final particle
    "客服让我转账 怎么回事",  # a victim complaining
    "私下转账不行的 要平台拍",  # refusal after the phrase
    "应用商店里的apple音乐",  # app inside a word, no download verb
    "现金支付的年代过去了",  # cash mentioned, no discount, nobody handed anything
    "线下门店也是这个价格",  # a shop, no cheaper deal
    "打卡里的钱出了事找谁",  # a viewer's worry
    "扣我一分都不行",  # 扣 as "deduct", no number
    "这条line很显瘦",  # an English word, no handle
    "私下转账出了问题谁都保不了你",  # a warning
]


@pytest.mark.parametrize("text", GENERAL_NEGATIVES)
def test_general_mechanisms_keep_benign_lines(detector: OfflineTradeLureDetector, text: str) -> None:
    assert detector.detect(ctx(text)) == [], text


def test_symbol_evidence_points_at_the_emoji(detector: OfflineTradeLureDetector) -> None:
    # The spelled-out 闲鱼 must map back to the single 🐟 in the original text.
    text = "去🐟搜"
    [f] = detector.detect(ctx(text))
    assert f.matched == "去🐟" or f.matched == "去🐟搜"
    check_evidence(f, text)


@pytest.mark.parametrize(("keys", "message"), [
    ("kind: contact\n    symbols: [闲]", "survives normalization"),  # a letter is no symbol
    ("kind: contact\n    handle_only: 1", "handle_only must be true or false"),
    ("kind: phrase\n    after_window: 5", "after_window is only for anchors"),
])
def test_bad_new_keys_are_refused(tmp_path: Path, keys: str, message: str) -> None:
    (tmp_path / "offline_trade_lure.yaml").write_text(
        "lexicon: offline_trade_lure\nversion: '1'\nentries:\n  - id: x\n    pattern: 微信\n"
        f"    {keys}\n    category: contact_handle\n    severity: high\n    legal_basis: x\n",
        encoding="utf-8")
    with pytest.raises(LexiconError, match=message):
        OfflineTradeLureDetector.load(tmp_path)


@pytest.mark.parametrize(("text", "found"), [
    ("抖音搜一下测评再决定买不买", False),  # research on another platform
    ("抖音搜 小李数码 那边下单便宜", True),  # the same verb, sending buyers to order
])
def test_research_is_not_a_redirect(detector: OfflineTradeLureDetector, text: str, found: bool) -> None:
    assert any(f.category == "platform_redirect" for f in detector.detect(ctx(text))) is found, text


@pytest.mark.parametrize(("text", "found"), [
    ("威❤ kitty2025 私聊", True),  # one-char sound-alike of 微 before an id
    ("威武霸气的包装", False),  # the same char in a word, no id
    ("维C含量 100mg", False),  # no id after it
])
def test_single_char_sound_alike_needs_an_id(detector: OfflineTradeLureDetector, text: str, found: bool) -> None:
    assert any(f.category == "contact_handle" for f in detector.detect(ctx(text))) is found, text


ROUND2 = [
    # (text, category or None for benign)
    ("唔好私下轉賬呀，全部喺平台落單", None),  # Cantonese 唔好 = 不要: a warning
    ("私下轉賬會唔會平啲？", None),  # Cantonese A唔A question after the phrase
    ("收款码在哪", None),  # asking where to pay in the room
    ("不走平台出了事谁负责啊", None),  # a warning about the risk
    ("平台买有保障 私下交易出事没人管", None),
    ("我去微店买了 那边也有", None),  # the speaker's own purchase
    ("我去淘宝代购那里买的便宜", None),  # the speaker's own trip
    ("为啥要去快手", None),  # asking why one would go
    ("京东也有我们店，但是直播间价格最划算，就在这拍", None),  # pointing back at this room
    ("你们去淘宝搜 比这便宜", "platform_redirect"),  # the same verb, said to viewers
    ("别买这 去唯品会 六折", "platform_redirect"),  # 别 is part of the redirect, no guard
    ("这种就是骗子，让你下载什么会议APP", None),  # the scam named before the redirect
    ("我在xy上挂了同款 便宜一半", "platform_redirect"),  # xy = 闲鱼
    ("xyz牌的手机壳", None),  # xy inside a Latin word
    ("想要入嚟閒魚搵我", "platform_redirect"),  # Cantonese 入嚟 / 搵我
    ("点我头像进群", "contact_handle"),  # avatar + group
    ("扫我头像二维码", "contact_handle"),
    ("点我头像关注一下", None),  # following on the platform
    ("加我 WhatsApp 九八七六 五四三二", "contact_handle"),  # an 8-digit Hong Kong number
    ("WhatsApp好用吗", None),  # the app named, no handle or add verb
    ("直接轉數快俾我", "offline_payment"),  # Hong Kong's person-to-person transfer
    ("我收PayMe同埋支付寶", "offline_payment"),  # I collect through a wallet
    ("我收到支付宝的通知了", None),  # 收到, not 收
    ("下单了直接微信付给我", "offline_payment"),
    ("直接微信支付就行", None),  # the platform checkout's WeChat Pay
]


@pytest.mark.parametrize(("text", "category"), ROUND2)
def test_round2_phrasing(detector: OfflineTradeLureDetector, text: str, category: str | None) -> None:
    found = {f.category for f in detector.detect(ctx(text))}
    assert (category in found) if category else not found, (text, found)


ROUND4 = [
    # (text, category or None for benign): vocabulary of round 4, written fresh (not corpus lines)
    ("下单前先加我私人号 发你实拍", "contact_handle"),  # a private second account
    ("加我个人微信 我拉你进内购", "contact_handle"),
    ("有小号吗 我穿M", None),  # 小号 is a size; only a handle after it makes it an account
    ("飞机 @tea_house_66 私聊", "contact_handle"),  # Telegram written as 飞机
    ("我坐飞机去的杭州", None),
    ("扣 二三四五六七八九 备注拿货", "contact_handle"),  # a bare 扣 before a QQ number
    ("扣1的家人抽福袋", None),  # 扣1: a vote in the room
    ("想要的看我昵称", "contact_handle"),
    ("剩下的钱打我卡上就行", "offline_payment"),
    ("定金转我两百 我先给你留着", "offline_payment"),  # 转我 + an amount
    ("你把卡号发我 回收的钱直接打你支付宝", "offline_payment"),  # the speaker pays the viewer
    ("入數去我中銀戶口就得", "offline_payment"),  # Cantonese: 户口 is a bank account
    ("户口本带上就能办", None),  # a household register
    ("同城的现金来拿 不用下单", "offline_payment"),
    ("现金来的话要提前说吗", None),  # a buyer asking
    ("群里统一用快团团下单", "platform_redirect"),
    ("加V ruby 520 领券", "contact_handle"),  # letters and one spaced digit group: one id
    ("V.X：tea.lover.88", "contact_handle"),  # dots inside an id
    ("加我微信 名字拼音 wang_xiaomei 备注茶", "contact_handle"),  # the id a few words after
    ("晒图给好评的私信我 发你五块钱红包", None),  # a review reward: fake_transaction, not a payment lure
]


ROUND5 = [
    ("想要的加我 ID：meimei_2023", "contact_handle"),  # an id marker before a WeChat-style id
    ("直播间id在左上角", None),  # an id mentioned, no handle
    ("video很清楚", None),  # id inside an English word
    ("批发的加我绿色软件", "contact_handle"),  # WeChat by euphemism
    ("这个软件是绿色软件吗", None),
    ("台湾的朋友加我赖 shop_ann88", "contact_handle"),  # LINE
    ("这件衣服真不赖", None),
    ("wei信 summer_tea66 找我", "contact_handle"),
    ("量大的直接对公打款 我给你开票", "offline_payment"),
    ("两箱以上的别走链接了 私聊", "offline_payment"),
    ("直播间链接拍就行", None),
    ("课程都在我们的APP上 应用商店下载就能学", "platform_redirect"),  # the app named, then the download
    ("这个app很好用", None),
    ("要的去微博搜我店名", "platform_redirect"),
    ("我在微博上看到过你们", None),
]


ROUND6 = [
    ("要货的加我 徽信 tea_house99", "contact_handle"),  # a sound-alike the pinyin table lacks
    ("加我卫星 lan_shop2024", "contact_handle"),
    ("卫星导航很准", None),
    ("xin: nana_shop01", "contact_handle"),
    ("扫我头像上的二维码进群", "contact_handle"),
    ("头像是我家猫", None),
    ("定金转我就给你留货", "offline_payment"),
    ("不用走平台 定金直接转我", "offline_payment"),
    ("不可以私下转账哦，都走平台", None),  # a warning
    ("有没有企鹅图案的杯子", None),
    ("我自己去1688拿过货 质量一般", None),  # the speaker's own trip
]


@pytest.mark.parametrize(("text", "category"), ROUND4 + ROUND5 + ROUND6)
def test_lexicon_rounds(detector: OfflineTradeLureDetector, text: str, category: str | None) -> None:
    found = {f.category for f in detector.detect(ctx(text))}
    assert (category in found) if category else not found, (text, found)


def test_handle_gate_lengths_are_the_formats_shortest() -> None:
    """The gate of handle-only contact words may only drop hits no handle can follow."""
    import re._parser as sre_parse

    from detectors.handles import FORMATS, MIN_LENGTH
    assert set(MIN_LENGTH) == set(FORMATS)
    for fmt, pattern in FORMATS.items():
        assert sre_parse.parse(pattern.pattern).getwidth()[0] == MIN_LENGTH[fmt], fmt


@pytest.mark.parametrize("text, found", [
    ("这件打完折扣1000多", False), ("扣1的家人", False), ("纤维8成", False),
    ("扣 12345", True), ("威 abc123", True), ("维：一三八一二三四五六七八", True)])
def test_handle_only_words_gated_on_a_handle(detector: OfflineTradeLureDetector, text: str, found: bool) -> None:
    assert bool(detector.detect(ctx(text))) is found
