"""The statistics part of the contract suite (``metrics`` and ``metric_values``): GatewayContract inherits it.

It checks every metric the host declares on the rows its CRM has (every day present, totals that follow from
the days, breakdown rows that add up, one employee's own rows, the errors), and, when the world names them,
that a measurement the suite marks done and a lead it stores are counted (see crm_plugin.testing.world).
"""

from __future__ import annotations

import uuid
from datetime import date, datetime, timedelta, timezone

import pytest

from ..host import Aggregation, Breakdown, CrmGateway, JobStatus, LeadDraft, MetricSpec, MetricValues, Unit
from .checks import check_metric_values
from .world import ContractWorld

PAST = (date(2030, 2, 26), date(2030, 3, 4))  # a week over a month's end, in the world's days


def _recent() -> tuple[date, date]:
    """A period holding the world's rows made just now, in any company zone (UTC-12 to UTC+14)."""
    today = datetime.now(timezone.utc).date()
    return today - timedelta(days=40), today + timedelta(days=1)


def _around_now() -> tuple[date, date]:
    today = datetime.now(timezone.utc).date()
    return today - timedelta(days=1), today + timedelta(days=1)


def _row_value(values: MetricValues, employee_id: int) -> float:
    return sum(row.value for row in values.rows if row.employee_id == employee_id)


class MetricContract:
    """``metrics`` and ``metric_values``; mixed into GatewayContract."""

    def test_metrics_are_declared(self, gateway: CrmGateway, contract_world: ContractWorld) -> None:
        specs = gateway.metrics()
        assert specs, "metrics() lists no metric"
        keys = [spec.key for spec in specs]
        assert len(set(keys)) == len(keys), f"metric keys repeat: {keys}"
        for spec in specs:
            assert isinstance(spec, MetricSpec) and spec.key.strip() == spec.key != ""
            assert spec.title_ru.strip() and spec.title_en.strip(), f"{spec.key}: a title is blank"
            assert isinstance(spec.unit, Unit) and isinstance(spec.aggregation, Aggregation)
            assert all(isinstance(b, Breakdown) for b in spec.breakdowns)
            assert spec.owner is None or spec.owner in spec.breakdowns

    def test_metric_values_cover_every_day(self, gateway: CrmGateway, contract_world: ContractWorld) -> None:
        year = (date(2029, 1, 1), date(2029, 12, 31))
        for spec in gateway.metrics():
            for start, end in (PAST, (PAST[1], PAST[1]), year, _recent()):
                values = gateway.metric_values(spec.key, start, end)
                check_metric_values(spec, values, start, end)
                assert values.rows == () and values.breakdown is None and values.employee_id is None

    def test_metric_breakdowns_add_up(self, gateway: CrmGateway, contract_world: ContractWorld) -> None:
        start, end = _recent()
        for spec in gateway.metrics():
            plain = gateway.metric_values(spec.key, start, end)
            for breakdown in sorted(spec.breakdowns):
                split = gateway.metric_values(spec.key, start, end, breakdown)
                check_metric_values(spec, split, start, end, breakdown)
                assert split.points == plain.points and split.total == pytest.approx(plain.total), (
                    f"{spec.key} by {breakdown.value}: the days or the total differ from the plain call")

    def test_metric_values_for_one_employee(self, gateway: CrmGateway, contract_world: ContractWorld) -> None:
        world = contract_world
        start, end = _recent()
        people = [world.measurer_id, world.other_measurer_id, world.installer_id, world.admin_id]
        for spec in gateway.metrics():
            if spec.owner is None:
                continue
            everyone = gateway.metric_values(spec.key, start, end, spec.owner)
            for person in people:
                own = gateway.metric_values(spec.key, start, end, spec.owner, employee_id=person)
                check_metric_values(spec, own, start, end, spec.owner, employee_id=person)
                assert {row.employee_id for row in own.rows} <= {person}, f"{spec.key}: another's rows"
                assert own.total == pytest.approx(_row_value(everyone, person)), (
                    f"{spec.key} of user {person}: not their row of the breakdown")
            nobody = gateway.metric_values(spec.key, start, end, employee_id=world.unknown_id)
            assert nobody.total == 0 and all(p.value == 0 for p in nobody.points) and nobody.rows == ()

    def test_metric_values_refuse_what_the_metric_does_not_have(self, gateway: CrmGateway,
                                                               contract_world: ContractWorld) -> None:
        start, end = PAST
        with pytest.raises(LookupError):
            gateway.metric_values(f"no-such-metric-{uuid.uuid4().hex[:6]}", start, end)
        for spec in gateway.metrics():
            for breakdown in set(Breakdown) - spec.breakdowns:
                with pytest.raises(ValueError):
                    gateway.metric_values(spec.key, start, end, breakdown)
            if spec.owner is None:
                with pytest.raises(ValueError):
                    gateway.metric_values(spec.key, start, end, employee_id=contract_world.measurer_id)
            with pytest.raises(ValueError):
                gateway.metric_values(spec.key, end, start)

    def test_a_done_measurement_counts_for_its_measurer(self, gateway: CrmGateway,
                                                       contract_world: ContractWorld) -> None:
        world, key = contract_world, contract_world.measurements_metric
        if key is None:
            pytest.skip("the world names no measurements_metric")
        start, end = _around_now()

        def figures() -> tuple[float, float, float, float]:
            split = gateway.metric_values(key, start, end, Breakdown.EMPLOYEE)
            mine = gateway.metric_values(key, start, end, employee_id=world.measurer_id)
            other = gateway.metric_values(key, start, end, employee_id=world.other_measurer_id)
            return split.total, _row_value(split, world.measurer_id), mine.total, other.total

        before = figures()
        gateway.set_job_status(world.measurer_job_id, JobStatus.MEASURED, world.measurer_id)
        after = figures()
        assert [b - a for a, b in zip(before, after)] == [1, 1, 1, 0], f"{key}: before {before}, after {after}"

    def test_a_new_lead_counts_under_its_source(self, gateway: CrmGateway, contract_world: ContractWorld) -> None:
        key = contract_world.leads_metric
        if key is None:
            pytest.skip("the world names no leads_metric")
        start, end = _around_now()
        source = f"contract:{uuid.uuid4().hex[:8]}"
        before = gateway.metric_values(key, start, end, Breakdown.LEAD_SOURCE)
        gateway.create_lead(LeadDraft(source=source, text="Сколько стоит балкон?"))
        after = gateway.metric_values(key, start, end, Breakdown.LEAD_SOURCE)
        assert after.total == before.total + 1
        assert [(row.label, row.value, row.employee_id) for row in after.rows if row.label == source] == [
            (source, 1, None)]
