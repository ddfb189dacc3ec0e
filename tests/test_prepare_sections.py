"""Section extraction (MIT-LCP behaviour), cleaners (R2Gen rules, paper's lowercase) and de-id policy."""

import pytest

from cxrgen.data.cleaning import CLEANERS, get_cleaner
from cxrgen.data.sections import apply_deid, extract, normalize_name, report_text, split_sections
from cxrgen.errors import ConfigError

MIMIC = """                                 FINAL REPORT
 EXAMINATION:  CHEST (PA AND LAT)
 
 INDICATION:  ___F with new onset ascites  // eval for infection
 
 TECHNIQUE:  Chest PA and lateral
 
 COMPARISONS:  None.
 
 FINDINGS: 
 
 There is no focal consolidation, pleural effusion or pneumothorax.  Bilateral
 nodular opacities that most likely represent nipple shadows.
 
 IMPRESSON: 
 
 No acute cardiopulmonary process.
"""


def test_standard_report_sections():
    s = extract(MIMIC)
    assert s.findings == ("There is no focal consolidation, pleural effusion or pneumothorax. Bilateral "
                          "nodular opacities that most likely represent nipple shadows.")
    assert s.impression == "No acute cardiopulmonary process."  # misspelt header normalised
    assert s.indication == "___F with new onset ascites // eval for infection"
    assert s.comparison == "None."  # COMPARISONS → comparison
    assert s.last_paragraph == ""
    names = [n for n, _ in split_sections(MIMIC)]
    assert names == ["preamble", "examination", "indication", "technique", "comparison", "findings", "impression"]


@pytest.mark.parametrize("header,name", [
    ("REASON FOR EXAM", "indication"), ("CONCLUSION", "impression"), ("FINDINGS AND IMPRESSION", "impression"),
    ("PA AND LATERAL VIEWS OF THE CHEST", "findings"), ("CLINICAL HISTORY", "history"), ("FINDNGS", "findings"),
    ("PRIOR IMPRESSION NOTE", "impression"), ("WET READ", "wet read"), ("SOMETHING ELSE", "something else")])
def test_header_normalisation(header, name):
    assert normalize_name(header) == name


def test_last_paragraph_fallback_without_findings_or_impression():
    text = (" EXAMINATION:  CHEST\n \n INDICATION:  cough\n \n PA and lateral views.\n \n"
            " Lungs are clear.\n No effusion.\n")
    s = extract(text)
    assert (s.findings, s.impression) == ("", "")
    assert s.indication == "cough"
    assert s.last_paragraph == "PA and lateral views. Lungs are clear. No effusion."  # after the first blank line
    assert report_text(s, "findings") == s.last_paragraph
    assert report_text(s, "impression") == s.last_paragraph


def test_empty_findings_dropped_and_last_section_of_a_kind_wins():
    text = (" FINDINGS:\n \n IMPRESSION:  first\n \n more text\n \n IMPRESSION:  second one\n")
    s = extract(text)
    assert s.findings == "" and s.impression == "second one"
    assert report_text(s, "findings") == ""  # an impression exists, so no fallback
    assert report_text(s, "findings+impression") == "second one"


def test_header_must_start_a_line_with_one_space():
    s = extract("No headers here: IMPRESSION: not a header\n")
    assert s.impression == "" and s.last_paragraph == ""


def test_r2gen_mimic_rules_exactly():
    clean = get_cleaner("r2gen", "mimic")
    # '1. ' deleted, '. 2. ' → '. ', '..' → '.', double spaces, '___' → '_' then stripped (leaves a space)
    assert clean("1. No acute process.  2. Small  left effusion.. ___ noted") == \
        "no acute process . small left effusion .  noted ."
    assert clean("Heart size is normal.\nNo pneumothorax.") == "heart size is normal . no pneumothorax ."
    # ':-[' is a character range in R2Gen's class: '<', '=', '>', '@' go too; digits stay
    assert clean("Tube 5 cm (<=> @carina); ok?") == "tube 5 cm  carina ok ."


def test_r2gen_iu_rules_differ_from_mimic_on_newlines_and_underscores():
    iu, mimic = get_cleaner("r2gen", "iu"), get_cleaner("r2gen", "mimic")
    text = "Clear lungs.\nNo  effusion."
    assert mimic(text) == "clear lungs . no effusion ."
    assert iu(text) == "clear lungs\nno  effusion ."  # IU rules keep newlines and double spaces


def test_lower_and_none_cleaners():
    assert get_cleaner("lower")("The patient's ET-tube: 5 cm above ___ carina.") == \
        "the patients et tube 5 cm above carina."
    assert get_cleaner("none")("  A \n  b. ") == "A b."
    assert sorted(CLEANERS.names()) == ["lower", "none", "r2gen-iu", "r2gen-mimic", "r2gengpt-iu", "r2gengpt-mimic"]
    with pytest.raises(ConfigError, match="unknown cleaner 'bogus'"):
        get_cleaner("bogus")


def test_deid_policy():
    text = "Compared to ___ and ____, XXXX seen."
    assert apply_deid(text, "keep") == text
    assert apply_deid(text, "normalize") == "Compared to XXXX and XXXX, XXXX seen."


@pytest.mark.parametrize("header,name", [
    ("NDICATION", "indication"), ("IMPRESSON", "impression"), ("FINDNGS", "findings"),
    ("IMPRESSIONS", "impression"), ("IMPERSSION", "impression"), ("FINIDNGS", "findings"),
    ("COMPARRISON", "comparison"), ("COMPARISIONS", "comparison"), ("TECHNIQE", "technique"),
    ("IDICATION", "indication"), ("HISTROY", "history"),
    ("DATE", "date"), ("EXAM", "examination"), ("WET READ", "wet read"), ("NOTE", "note"), ("FINDING", "findings")])
def test_misspelt_headers_corrected_by_edit_distance(header, name):
    assert normalize_name(header) == name


def test_ndication_text_no_longer_becomes_the_impression():
    from collections import Counter
    text = (" EXAMINATION:  CHEST PA AND LAT\n \n NDICATION:  Shortness of breath, rule out pneumonia.\n \n"
            " FINDNGS:  Lungs are clear.  No effusion.\n \n IMPRESSIONS:  No pneumonia.\n")
    fixes = Counter()
    s = extract(text, fixes)
    assert s.indication == "Shortness of breath, rule out pneumonia."
    assert s.findings == "Lungs are clear. No effusion." and s.impression == "No pneumonia."
    assert fixes == {"ndication → indication": 1, "findngs → findings": 1, "impressions → impression": 1}
    # a report with only the misspelt indication: its text is not taken as the impression
    only = extract("  FINAL REPORT\n NDICATION:  Cough.\n \n Lungs are clear.\n")
    assert (only.indication, only.impression, only.last_paragraph) == ("Cough.", "", "Lungs are clear.")
