"""«Доступ к статистике»: the grid of metrics by role in the admin tab, and what saving it changes in the bot."""

from __future__ import annotations

import re

from flask import Flask

from crm_plugin import get_state
from crm_plugin.demo.metrics import SPECS
from crm_plugin.host import MetricSpec, Role, Unit
from crm_plugin.stats import access

from .admin_helpers import add_user, admin_client, login, page, post

PATH = "/stats-access/"


def box_checked(html: str, name: str) -> bool:
    match = re.search(rf'<input type="checkbox" name="{re.escape(name)}"[^>]*>', html)
    assert match, name
    return "checked" in match.group(0)


def test_the_grid_shows_every_metric_ticked_and_company_figures_closed_to_field_staff(app: Flask) -> None:
    html = page(admin_client(app), PATH)
    assert "Доступ к статистике" in html and "Замерщики" in html and "Монтажники" in html
    for spec in SPECS:
        assert f"<th>{spec.title_ru}</th>" in html
    assert 'name="allow:measurer:measurements_done" value="1"' in html
    assert 'name="allow:measurer:revenue"' not in html  # the rule: never company revenue for field staff
    assert html.count("checked") == sum(access.allowed_by_rule(s, r) for s in SPECS for r in access.ROLES)


def test_unticking_takes_a_metric_away_and_ticking_gives_it_back(app: Flask) -> None:
    client = admin_client(app)
    every = {f"allow:{role.value}:{spec.key}": "1" for role in access.ROLES for spec in SPECS
             if access.allowed_by_rule(spec, role)}
    less = {k: v for k, v in every.items() if k not in ("allow:manager:revenue", "allow:installer:measurements_done")}
    response = post(client, PATH, less, follow_redirects=True)
    assert "Доступ к статистике сохранён" in response.get_data(as_text=True)
    state = get_state(app)
    with state.db.session() as session:
        manager = access.visible_metrics(session, SPECS, access.Viewer(1, frozenset({Role.MANAGER})))
        installer = access.visible_metrics(session, SPECS, access.Viewer(2, frozenset({Role.INSTALLER})))
        measurer = access.visible_metrics(session, SPECS, access.Viewer(3, frozenset({Role.MEASURER})))
    assert "revenue" not in [s.key for s in manager] and len(manager) == len(SPECS) - 1
    assert [s.key for s in installer] == ["installations_done"]
    assert [s.key for s in measurer] == ["measurements_done", "installations_done"]
    assert not box_checked(page(client, PATH), "allow:manager:revenue")
    assert box_checked(page(client, PATH), "allow:manager:new_orders")
    post(client, PATH, every, follow_redirects=True)
    with state.db.session() as session:
        assert access.taken_away(session) == set()


def test_a_post_without_the_token_changes_nothing_and_strangers_get_403(app: Flask) -> None:
    client = admin_client(app)
    response = client.post("/admin/crm-plugin/stats-access/", data={}, follow_redirects=True)
    assert "Форма устарела" in response.get_data(as_text=True)
    with get_state(app).db.session() as session:
        assert access.taken_away(session) == set()
    add_user(app, "manager", roles=(Role.MANAGER,))
    stranger = app.test_client()
    login(stranger, "manager")
    assert stranger.get("/admin/crm-plugin/stats-access/").status_code == 403


def test_keys_of_any_length_and_text_are_stored_or_left_alone(app: Flask) -> None:
    """Edge keys from a CRM: long ones cannot be restricted (and break nothing), odd text is stored as is."""
    huge = MetricSpec(key="k" * 300, title_ru="Длинная", title_en="Long", unit=Unit.PIECES)
    odd = MetricSpec(key="выручка: «всё» 💰", title_ru="Странная", title_en="Odd", unit=Unit.PIECES)
    specs = [*SPECS, huge, odd]
    state = get_state(app)
    with state.db.session() as session:
        access.set_rights(session, specs, set())
    with state.db.session() as session:
        seen = access.visible_metrics(session, specs, access.Viewer(1, frozenset({Role.ADMIN})))
        assert [s.key for s in seen] == [huge.key]
        assert (Role.ADMIN.value, odd.key) in access.taken_away(session)
