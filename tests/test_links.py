"""A page offers only what its reader may open: every link and button in a page's <main> leads,
for the person who sees it, to a page they may see (issue 10, item 7: no link to a 403)."""

from html.parser import HTMLParser
from urllib.parse import urlsplit

import pytest
import sqlalchemy as sa

from extensions import db
from grid import queries as grid_queries
from grid.models import Grid, User
from problems.models import Problem
from sources.models import Source

TOWN = "652301101000"  # 三工镇: sangong heads it, cun supervises its first village
PEOPLE = ("cun", "sangong", "changji", "zhifa")  # zhifa: no post, a rectification assigned


class _MainLinks(HTMLParser):
    """The href of every <a> inside <main>."""

    def __init__(self):
        super().__init__()
        self.depth = 0
        self.hrefs: list[str] = []

    def handle_starttag(self, tag, attrs):
        if tag == "main":
            self.depth += 1
        elif tag == "a" and self.depth:
            href = dict(attrs).get("href")
            if href:
                self.hrefs.append(href)

    def handle_endtag(self, tag):
        if tag == "main":
            self.depth -= 1


def links_in_main(html: str) -> list[str]:
    """The same-origin paths (with their query) a page's <main> links to, each once."""
    parser = _MainLinks()
    parser.feed(html)
    paths = []
    for href in parser.hrefs:
        parts = urlsplit(href)
        if parts.scheme or parts.netloc or not parts.path:
            continue  # tel:, another site, or a fragment of this page
        path = parts.path + (f"?{parts.query}" if parts.query else "")
        if path not in paths:
            paths.append(path)
    return paths


def cun_source() -> Source:
    village = grid_queries.children(grid_queries.grid_by_code(TOWN))[0]
    return db.session.scalar(
        sa.select(Source).where(Source.grid_id == village.id).order_by(Source.id).limit(1)
    )


def zhifa_problem() -> Problem:
    """The demo problem assigned to zhifa, found in cun's village on a patrol."""
    zhifa = db.session.scalar(sa.select(User.id).where(User.username == "zhifa"))
    return db.session.scalar(
        sa.select(Problem).where(Problem.assignee_user_id == zhifa).order_by(Problem.id).limit(1)
    )


def page_url(page: str) -> str:
    if page == "source":
        return f"/sources/{cun_source().id}"
    if page == "problem":
        return f"/patrol/problems/{zhifa_problem().id}"
    return {"home": "/", "problems": "/problems/"}[page]


@pytest.mark.parametrize("page", ["home", "problems", "source", "problem"])
@pytest.mark.parametrize("login", PEOPLE)
def test_every_link_in_the_page_opens(client, auth, login, page):
    auth.login(login)
    url = page_url(page)
    if login == "zhifa" and page == "source":
        assert client.get(url).status_code == 403  # no post: the ledger is not his to see
        return
    response = client.get(url)
    assert response.status_code == 200, url
    links = links_in_main(response.text)
    # Only the assignee's problem page may offer nothing: its grid is not his to open.
    assert links or (login, page) == ("zhifa", "problem"), f"{url} links to nothing"
    refused = {}
    for link in links:
        status = client.get(link).status_code
        if status in (403, 404) or status >= 500:
            refused[link] = status
    assert not refused, f"{login} on {url} is offered links that refuse: {refused}"


@pytest.mark.parametrize(
    ("login", "enters", "ledger"),
    [("cun", False, "village"), ("sangong", False, "town"), ("changji", True, "county")],
)
def test_each_is_offered_what_they_may_use(client, auth, login, enters, ledger):
    """The township head and the village supervisor lose the office's button and the county's
    links; the county office keeps them; the trail leads to the widest sources list one sees."""
    source = cun_source()
    village = db.session.get(Grid, source.grid_id)
    town = db.session.get(Grid, village.parent_id)
    grids = {"village": village, "town": town, "county": db.session.get(Grid, town.parent_id)}
    auth.login(login)
    assert ("/problems/new" in links_in_main(client.get("/problems/").text)) is enters
    links = links_in_main(client.get(f"/sources/{source.id}").text)
    assert f"/sources/?grid={grids[ledger].id}" in links
    assert (f"/grids/{grids['county'].id}" in links) is (ledger == "county")
