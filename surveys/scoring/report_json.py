"""A StudyReport as plain JSON-ready data (the API's report endpoint)."""

from dataclasses import asdict

from surveys.scoring.selectors import StudyReport
from surveys.studies.paradigms import PARADIGMS


def report_as_dict(report: StudyReport) -> dict:
    return {
        "study_id": report.study_id,
        "paradigm": report.paradigm,
        "measure": report.measure,
        "score_name": PARADIGMS[report.paradigm].score_name,
        "chance": report.chance,
        "target_ci_width": report.target_ci_width,
        "conditions": [s.as_dict() for s in report.conditions],
        "conditions_without_exclusions": [s.as_dict() for s in report.conditions_all],
        "item_scores": {str(s.condition_id): {str(k): v for k, v in s.item_scores.items()}
                        for s in report.conditions},
        "comparisons": [asdict(c) for c in report.comparisons],
        "comparisons_without_exclusions": [asdict(c) for c in report.comparisons_all],
        "reliability": asdict(report.reliability),
        "reliability_without_exclusions": asdict(report.reliability_all),
        "condition_reliability": {str(k): asdict(v) for k, v in report.condition_reliability.items()},
        "exclusions": [asdict(e) for e in report.exclusions],
        "proxies": [asdict(p) for p in report.proxies],
        "proxy_agreement": [asdict(a) for a in report.proxy_agreement],
        "analyses": asdict(report.analyses),
    }
