import pytest
from berth.cli.format import Template, TemplateError, human_duration, human_size, parse_rfc3339, render_table


@pytest.mark.parametrize("size, text", [(0, "0B"), (999, "999B"), (1000, "1kB"), (77834000, "77.8MB"),
                                        (145300000, "145MB"), (1234567890, "1.23GB")])
def test_human_size_like_go_units(size, text):
    assert human_size(size) == text


@pytest.mark.parametrize("seconds, text", [(0.5, "Less than a second"), (1, "1 second"), (59, "59 seconds"),
                                           (60, "About a minute"), (3599, "59 minutes"),
                                           (3600, "About an hour"), (47 * 3600, "47 hours"),
                                           (3 * 86400, "3 days"), (15 * 86400, "2 weeks"),
                                           (90 * 86400, "3 months"), (800 * 86400, "2 years")])
def test_human_duration_like_go_units(seconds, text):
    assert human_duration(seconds) == text


def test_rfc3339():
    assert parse_rfc3339("2026-11-29T02:10:00Z") == 1795918200.0
    assert parse_rfc3339("2026-11-29T03:10:00.5+01:00") == 1795918200.5


def test_table_alignment_like_tabwriter():
    assert render_table(["REPOSITORY\tTAG\tSIZE", "a\tlatest\t1MB"]) == [
        "REPOSITORY   TAG       SIZE", "a            latest    1MB"]


def test_template_fields_functions_and_blocks():
    doc = {"Id": "sha256:1", "RepoTags": ["a:1", "b:2"], "Config": {"Env": ["A=1"], "Cmd": None},
           "Size": 10, "Labels": {}}
    assert Template("{{.Id}} {{.Size}}").render(doc) == "sha256:1 10"
    assert Template("{{json .Config.Env}}").render(doc) == '["A=1"]'
    assert Template("{{index .RepoTags 1}}").render(doc) == "b:2"
    assert Template("{{range .RepoTags}}[{{.}}]{{end}}").render(doc) == "[a:1][b:2]"
    assert Template("{{if .Labels}}yes{{else}}no{{end}}").render(doc) == "no"
    assert Template("{{.RepoTags}}").render(doc) == "[a:1 b:2]"
    assert Template("{{.Config.Cmd}}").render(doc) == "<no value>"
    assert Template('{{join .RepoTags ","}}').render(doc) == "a:1,b:2"
    assert Template("{{len .RepoTags}}").render(doc) == "2"


def test_table_template_header():
    template = Template("table {{.Repository}}\\t{{.ID}}")
    assert template.table
    assert template.header({"Repository": "REPOSITORY", "ID": "IMAGE ID"}) == "REPOSITORY\tIMAGE ID"


def test_template_errors():
    with pytest.raises(TemplateError):
        Template("{{range .X}}")
    with pytest.raises(TemplateError):
        Template("{{nosuch .X}}").render({})
