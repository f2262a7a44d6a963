"""The Changji demo's typical cases (called by desk/cli.py's load_demo): one published and one
draft, each from a closed demo problem, made through the services as the offices would (the
county's office prepares, its head reviews, the prefecture office approves). Fictional, like all
demo people; the text names the problem's reporter and a made-up company, phone and plate, so
that the replacements show."""

from collections.abc import Callable
from datetime import date

import sqlalchemy as sa

from enforce.cases import anonymise, services
from extensions import db
from grid.models import Membership, Role, User
from problems.escalation import CLOSED_STATES
from problems.models import Problem

PREFECTURE_OFFICE = "zhou"
COUNTY_OFFICE = "changji"  # the demo's county office: its own county's problems first
COMPANY = "昌吉市恒通建材有限公司"  # fictional
MANAGER = "马国强"  # fictional
TARGET = 1300  # characters of the text as written; the public text comes out shorter
PARAGRAPHS = (
    "一、基本案情。{day}，网格员{reporter}在日常巡查中发现，{company}位于昌吉市延安北路198号的"
    "物料堆场存在问题：{description}现场负责人{manager}（联系电话13899887766）未能提供扬尘防治"
    "方案，一辆车牌号为新B12345的运输车辆正在装卸物料，未采取喷淋抑尘措施。网格员当场拍照取证，"
    "并通过平台逐级上报。",
    "二、调查处理。县大气办接报后，当日交办县生态环境局执法大队进行核查。执法人员现场检查发现，"
    "该公司物料堆场约三千平方米，其中约一半未苫盖，厂区道路未硬化，车辆出入口未设置冲洗设施，"
    "违反了《中华人民共和国大气污染防治法》第七十二条第一款的规定。执法人员依法制作了现场检查笔录，"
    "拍摄了现场照片和视频，并对现场负责人进行了询问调查。",
    "三、整改落实。执法大队依法责令该公司立即改正违法行为，限期完成物料全部苫盖、道路硬化和冲洗"
    "设施建设。该公司按要求落实了整改措施，网格员和执法人员分别进行了复查，确认整改到位，问题办结。"
    "依据《中华人民共和国大气污染防治法》第一百零八条第（五）项的规定，对该公司处以罚款人民币三万元。",
    "四、典型意义。本案是网格化环境监管发现问题、及时上报、部门联动、依法查处的典型案例。"
    "网格员在日常巡查中做到了巡查可发现、肉眼可识别、常识可判断，发现问题后及时固定证据并逐级上报，"
    "县大气办及时交办，执法部门依法查处，形成了发现问题、处置问题、反馈结果、总结分析的工作闭环。",
    "五、工作启示。各级网格要进一步压实网格员巡查责任，做到污染源每日巡查全覆盖；"
    "对物料堆场、建筑工地等扬尘污染源，要督促企业落实六个百分之百要求；对巡查发现的问题，"
    "要做到早发现、早报告、早处置，防止小问题拖成大问题。同时，要加强部门协作，"
    "对需要立案查处的问题及时移交执法部门，依法从严查处，形成有力震慑。",
    "六、群众参与。本案办理过程中，周边群众通过公开的投诉渠道反映了该堆场扬尘问题，"
    "网格员在核实后一并上报。各级网格要持续公开网格长、网格员和投诉渠道，"
    "畅通群众监督渠道，及时回应群众关切，推动形成政府主导、企业主体、公众参与的共治格局。",
    "七、执法依据。《中华人民共和国大气污染防治法》第七十二条规定，贮存煤炭、煤矸石、煤渣、煤灰、"
    "水泥、石灰、石膏、砂土等易产生扬尘的物料应当密闭；不能密闭的，应当设置不低于堆放物高度的严密"
    "围挡，并采取有效覆盖措施防治扬尘污染。第一百零八条规定，违反本法规定，未采取有效覆盖措施防治"
    "扬尘污染的，由县级以上人民政府生态环境主管部门责令改正，处二万元以上二十万元以下的罚款；"
    "拒不改正的，责令停工整治或者停业整治。",
    "八、后续监管。办结后，所在乡镇网格将该堆场列为重点巡查对象，网格员每日巡查并记录苫盖情况，"
    "县大气办在周调度中跟踪整改的长效落实情况。对再次发现同类问题的，将依法从重处罚，"
    "并按照考核办法对相关网格的履职情况进行评估。",
)


def _holder(county_id: int | None, role: str, but: set[int]) -> User | None:
    if county_id is None:
        return None
    return db.session.scalar(
        sa.select(User)
        .join(Membership, Membership.user_id == User.id)
        .where(
            Membership.grid_id == county_id,
            Membership.role == role,
            Membership.ended_on.is_(None),
            User.id.not_in(but or {-1}),
        )
        .order_by(Membership.id)
        .limit(1)
    )


def case_text(problem: Problem, reporter: str, manager: str) -> str:
    """The demo's case of `problem`, 1,000-1,500 characters once anonymised."""
    values = {
        "day": f"{problem.found_at:%Y年%m月%d日}",
        "reporter": reporter,
        "company": COMPANY,
        "description": problem.description.rstrip("。") + "。",
        "manager": manager,
    }
    text = ""
    for paragraph in PARAGRAPHS:
        text += paragraph.format(**values) + "\n"
        if anonymise.counted_length(text) >= TARGET:
            break
    return text.strip()


def load(start: date, echo: Callable[[str], None]) -> str:
    """One published case and one draft, from the demo's closed problems."""
    del start, echo  # the cases stand on the problems, whatever the demo's start
    counties = db.session.scalars(
        sa.select(Membership.grid_id)
        .join(User, User.id == Membership.user_id)
        .where(User.username == COUNTY_OFFICE, Membership.role.in_([Role.OFFICE, Role.HEAD]))
    )
    mine = Problem.county_id.in_(list(counties) or [-1])
    problems = list(
        db.session.scalars(
            sa.select(Problem)
            .where(
                Problem.state.in_([s.value for s in CLOSED_STATES]),
                Problem.county_id.is_not(None),
            )
            .order_by(sa.case((mine, 0), else_=1), Problem.id)
            .limit(2)
        )
    )
    zhou = db.session.scalar(sa.select(User).where(User.username == PREFECTURE_OFFICE))
    if not problems or zhou is None:
        return "Typical cases: none (no closed problem, or no prefecture office)."
    made = []
    for index, problem in enumerate(problems):
        reporter = db.session.get(User, problem.reporter_id) if problem.reporter_id else None
        author = _holder(problem.county_id, Role.OFFICE, {zhou.id})
        text = case_text(problem, reporter.name if reporter else "李建华", MANAGER)
        case = services.prepare(None, problem, f"{COMPANY}堆场扬尘案", text, by=author)
        # names the app does not know: the editor adds them, as the review page offers
        services.add_phrase(case, COMPANY, "某建材公司", by=author)
        services.add_phrase(case, MANAGER, "马某", by=author)
        if index == 0:
            services.submit(case, None, by=author)
            but = {zhou.id} | ({author.id} if author else set())
            reviewer = _holder(problem.county_id, Role.HEAD, but) or _holder(
                problem.county_id, Role.OFFICE, but
            )
            services.review(case, True, "事实清楚，同意", reviewer or zhou)
            if reviewer is not None:
                services.approve(case, True, "同意发布", zhou)
        made.append(case.state)
    return f"Typical cases: {', '.join(made)}."
