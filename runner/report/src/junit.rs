//! JUnit XML: one test case per expectation (and one per `abort when`), so CI systems list
//! each verdict; a failure's message says observed against threshold and the window.

use quick_junit::{NonSuccessKind, Report as JReport, TestCase, TestCaseStatus, TestSuite};

use crate::model::Report;
use crate::text::{duration, observed, threshold, with_unit};

#[derive(Debug, thiserror::Error)]
#[error("could not write JUnit XML: {0}")]
pub struct JunitError(String);

/// Renders `report` as JUnit XML (no timestamps, so the same report gives the same XML).
pub fn render(report: &Report, aborts: &[String]) -> Result<String, JunitError> {
    let mut suite = TestSuite::new(report.scenario.clone());
    let classname = format!("chaos.{}", report.mode);
    for (i, e) in report.expectations.iter().enumerate() {
        // Over many seeds an expectation passes only if it held in every run.
        let dist = report.runs.as_ref().and_then(|r| r.expectations.get(i));
        if let Some(d) = dist {
            let status = if d.held == d.runs {
                TestCaseStatus::success()
            } else {
                let mut s = TestCaseStatus::non_success(NonSuccessKind::Failure);
                let mean = d.mean.map_or(String::new(), |m| {
                    format!("; mean observed {}", with_unit(m, &d.unit))
                });
                s.set_message(format!(
                    "holds in {} of {} runs{mean}, expected {} {} (window {})",
                    d.held,
                    d.runs,
                    d.op,
                    with_unit(d.threshold, &d.unit),
                    d.window
                ));
                s.set_type("expectation");
                s
            };
            let mut case = TestCase::new(e.text.clone(), status);
            case.set_classname(classname.clone());
            suite.add_test_case(case);
            continue;
        }
        let status = if e.passed {
            TestCaseStatus::success()
        } else {
            let mut s = TestCaseStatus::non_success(NonSuccessKind::Failure);
            s.set_message(format!(
                "observed {}, expected {} (window {})",
                observed(e),
                threshold(e),
                e.window
            ));
            s.set_type("expectation");
            s
        };
        let mut case = TestCase::new(e.text.clone(), status);
        case.set_classname(classname.clone());
        suite.add_test_case(case);
    }
    for text in aborts {
        let fired = report.aborted.as_ref().filter(|a| &a.text == text);
        let status = match fired {
            None => TestCaseStatus::success(),
            Some(a) => {
                let mut s = TestCaseStatus::non_success(NonSuccessKind::Failure);
                s.set_message(format!("the run was aborted at {}", duration(a.at_s)));
                s.set_type("abort");
                s
            }
        };
        let mut case = TestCase::new(text.clone(), status);
        case.set_classname(classname.clone());
        suite.add_test_case(case);
    }
    let mut r = JReport::new("chaos");
    r.add_test_suite(suite);
    r.to_string().map_err(|e| JunitError(e.to_string()))
}
