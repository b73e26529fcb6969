"""The console's workflows: the list shows the docs' workflows, and a workflow's page draws
its DAG (one node per step, one arrow per dependency, layered by depth, map and trigger
rules labelled, callbacks listed), in English and in Chinese."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.api.test_workflows_api import docs_definition
from tests.browser.conftest import Server, sign_in

pytestmark = pytest.mark.system
WAIT = 20_000  # ms

#: docs/workflows.md's workflows: the segment scan, the chord and the explicit DAG.
WORKFLOWS: dict[str, dict[str, Any]] = {
    "segment-scan": docs_definition(),
    "two-hosts": {"steps": [
        {"id": "probe", "task": "scan.probe", "kwargs": {"item": "10.0.0.1"}},
        {"id": "probe-2", "task": "scan.probe", "kwargs": {"item": "10.0.0.2"}},
        {"id": "report", "task": "scan.report", "after": ["probe", "probe-2"]}]},
    "explicit": {"description": "with an error branch", "steps": [
        {"id": "find", "task": "scan.discover", "kwargs": {"segment": "10.0.3.0/24"}},
        {"id": "probe-all", "task": "scan.probe", "map": "find", "concurrency": 10,
         "retries": 2},
        {"id": "alarm", "task": "ops.alert", "kwargs": {"channel": "scan"},
         "after": ["probe-all"], "trigger_rule": "any_failed"}]},
}


def _add_all(server: Server) -> None:
    headers = {"Authorization": f"Bearer {server.tokens['admin']}"}
    for wid, definition in WORKFLOWS.items():
        r = httpx.post(f"{server.url}/api/v1/workflows", headers=headers,
                       json={"id": wid, **definition})
        assert r.status_code in (201, 409), r.text  # 409: an earlier test of the module


def _edges(definition: dict[str, Any]) -> set[tuple[str, str]]:
    out = set()
    for step in definition["steps"]:
        after = list(step.get("after", []))
        if isinstance(step.get("map"), str) and step["map"] not in after:
            after.append(step["map"])  # a map implies the dependency (docs/workflows.md)
        out |= {(dep, step["id"]) for dep in after}
    return out


def test_the_list_shows_the_docs_workflows(page: Any, server: Server, shots: Path) -> None:
    from playwright.sync_api import expect

    _add_all(server)
    sign_in(page, server, "viewer")
    page.click("header nav a[href='/workflows']")
    page.wait_for_url(server.url + "/workflows")
    rows = page.locator("#workflow-table tbody tr[data-id]")
    expect(rows).to_have_count(3, timeout=WAIT)
    assert rows.evaluate_all("rs => rs.map(r => r.dataset.id)") == sorted(WORKFLOWS)
    scan = page.locator("#workflow-table tr[data-id='segment-scan'] td")
    expect(scan.nth(1)).to_have_text("1")  # version
    expect(scan.nth(2)).to_have_text("3")  # steps
    expect(page.locator("#workflow-table tr[data-id='explicit']")).to_contain_text(
        "with an error branch")
    page.fill("#f-search", "error branch")
    page.click("#filters button")
    expect(rows).to_have_count(1, timeout=WAIT)
    expect(rows.first).to_have_attribute("data-id", "explicit")
    page.screenshot(path=str(shots / "workflows-en.png"), full_page=True)


@pytest.mark.parametrize("wid", sorted(WORKFLOWS))
def test_the_dag_has_a_node_per_step_and_an_edge_per_dependency(
        page: Any, server: Server, shots: Path, wid: str) -> None:
    from playwright.sync_api import expect

    _add_all(server)
    definition = WORKFLOWS[wid]
    sign_in(page, server, "viewer")
    page.goto(f"{server.url}/workflows/{wid}")
    nodes = page.locator("#dag svg g.node[data-step]")
    expect(nodes).to_have_count(len(definition["steps"]), timeout=WAIT)
    drawn = nodes.evaluate_all("ns => ns.map(n => [n.dataset.step, Number(n.dataset.depth),"
                               " n.getBBox().x + n.transform.baseVal[0].matrix.e])")
    assert {s for s, _, _ in drawn} == {s["id"] for s in definition["steps"]}
    edges = page.locator("#dag svg path.edge").evaluate_all(
        "es => es.map(e => [e.dataset.from, e.dataset.to, e.getAttribute('marker-end')])")
    assert {(a, b) for a, b, _ in edges} == _edges(definition)
    assert len(edges) == len(_edges(definition))
    assert all(marker == "url(#dag-arrow)" for *_, marker in edges)
    # layered left to right by depth: a step's layer is one more than its deepest
    # dependency's, and every arrow points right
    expected: dict[str, int] = {}
    for step in definition["steps"]:  # each after its dependencies in these definitions
        deps = {a for a, b in _edges(definition) if b == step["id"]}
        expected[step["id"]] = 1 + max((expected[d] for d in deps), default=-1)
    assert {s: d for s, d, _ in drawn} == expected
    left = {s: x for s, _, x in drawn}
    assert all(left[b] > left[a] for a, b, _ in edges)
    for step in definition["steps"]:  # each node: the step id and its task
        node = page.locator(f"#dag g.node[data-step='{step['id']}']")
        expect(node.locator("text.id")).to_have_text(step["id"])
        expect(node.locator("text.task")).to_have_text(step["task"])
    expect(page.locator("#step-table tbody tr")).to_have_count(len(definition["steps"]))
    page.screenshot(path=str(shots / f"workflow-{wid}-en.png"), full_page=True)


def test_map_rules_and_callbacks_are_labelled(page: Any, server: Server) -> None:
    from playwright.sync_api import expect

    _add_all(server)
    sign_in(page, server, "viewer")
    page.goto(f"{server.url}/workflows/segment-scan")
    probe = page.locator("#dag g.node[data-step='probe']")
    expect(probe.locator("text.map")).to_have_text("map over discover", timeout=WAIT)
    report = page.locator("#dag g.node[data-step='report']")
    expect(report.locator("text.rule")).to_have_text("when all are done")
    expect(page.locator("#dag g.node[data-step='discover'] text.rule")).to_have_count(0)
    expect(page.locator("#callback-list li[data-callback='on_failure']")).to_contain_text(
        "ops.alert")
    expect(page.locator("#workflow-json")).to_contain_text('"trigger_rule": "all_done"')

    page.goto(f"{server.url}/workflows/explicit")
    alarm = page.locator("#dag g.node[data-step='alarm']")
    expect(alarm.locator("text.rule")).to_have_text("when any failed", timeout=WAIT)
    expect(page.locator("#callback-list li.empty")).to_have_text("No callbacks.")


LAYOUT_JS = """() => window.HoraeDag.layout({steps: [
  {id: "a", task: "t.a"}, {id: "b", task: "t.b", after: ["a"], map: [1, 2, 3]},
  {id: "c", task: "t.c", after: ["a"]}, {id: "d", task: "t.d", after: ["b", "c"],
   trigger_rule: "all_done"}]}, window.HoraeConsole.t)"""


def test_the_layout_is_pure_and_nodes_take_a_run_state(page: Any, server: Server) -> None:
    from playwright.sync_api import expect

    _add_all(server)
    sign_in(page, server, "viewer")
    page.goto(f"{server.url}/workflows/segment-scan")
    expect(page.locator("#dag g.node")).to_have_count(3, timeout=WAIT)
    plan = page.evaluate(LAYOUT_JS)
    nodes = {n["id"]: n for n in plan["nodes"]}
    assert {k: n["depth"] for k, n in nodes.items()} == {"a": 0, "b": 1, "c": 1, "d": 2}
    assert [line["text"] for line in nodes["b"]["lines"]] == ["b", "t.b", "map over 3 items"]
    assert [line["text"] for line in nodes["d"]["lines"]] == ["d", "t.d", "when all are done"]
    assert nodes["b"]["x"] == nodes["c"]["x"] < nodes["d"]["x"]
    assert nodes["b"]["y"] + nodes["b"]["h"] <= nodes["c"]["y"]  # no overlap in a layer
    assert {(e["from"], e["to"]) for e in plan["edges"]} == {("a", "b"), ("a", "c"),
                                                            ("b", "d"), ("c", "d")}
    # a run's states colour the nodes (the workflow run page will pass them)
    page.evaluate("""async () => {
      const w = await (await fetch("/api/v1/workflows/segment-scan")).json();
      window.HoraeDag.draw(document.getElementById("dag"), w,
                           {discover: "succeeded", probe: "failed"});
    }""")
    expect(page.locator("#dag g.node[data-step='probe']")).to_have_class("node s-failed")
    expect(page.locator("#dag g.node[data-step='discover']")).to_have_class("node s-succeeded")
    expect(page.locator("#dag g.node[data-step='report']")).to_have_class("node")
    fills = page.locator("#dag g.node rect").evaluate_all(
        "rs => rs.map(r => getComputedStyle(r).fill)")
    assert len(set(fills)) == 3, fills


def test_the_pages_in_chinese(browser: Any, server: Server, shots: Path) -> None:
    from playwright.sync_api import expect

    _add_all(server)
    context = browser.new_context(locale="zh-CN", timezone_id="Asia/Shanghai",
                                  viewport={"width": 1280, "height": 900})
    page = context.new_page()
    try:
        sign_in(page, server, "viewer")
        page.goto(f"{server.url}/workflows")
        expect(page.locator("h1")).to_have_text("工作流")
        expect(page.locator("#workflow-table tbody tr[data-id]")).to_have_count(3, timeout=WAIT)
        page.goto(f"{server.url}/workflows/segment-scan")
        probe = page.locator("#dag g.node[data-step='probe']")
        expect(probe.locator("text.map")).to_have_text("映射 discover 的结果", timeout=WAIT)
        expect(page.locator("#dag g.node[data-step='report'] text.rule")).to_have_text(
            "全部结束时")
        page.screenshot(path=str(shots / "workflow-segment-scan-zh.png"), full_page=True)
    finally:
        context.close()


def test_an_unknown_workflow_says_so(page: Any, server: Server) -> None:
    from playwright.sync_api import expect

    sign_in(page, server, "viewer")
    page.goto(f"{server.url}/workflows/no-such-workflow")
    expect(page.locator("#flash .error")).to_be_visible(timeout=WAIT)
    expect(page.locator("#dag g.node")).to_have_count(0)
