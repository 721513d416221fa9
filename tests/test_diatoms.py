"""Which classes are diatoms: the bundled genera (matched by genus) and the two kinds of user file."""

from __future__ import annotations

import warnings

import pytest

from ifcbkit import FormatError, NotFoundError
from ifcbkit.science.class_rules import UnknownClassWarning
from ifcbkit.science.diatoms import default_diatoms, is_diatom, parse_diatom_list, read_diatom_list

DIATOMS = [
    "Chaetoceros", "Chaetoceros_chain", "chaetoceros_didymus_flagellate", "Guinardia_delicatula", "Pseudo-nitzschia",
    "Pseudo_nitzschia", "Pseudo-nitzschia_spp", "Pseudonitzschia", "Thalassiosira", "Skeletonema_marinoi",
    "Leptocylindrus", "Rhizosolenia_imbricata", "Ditylum_brightwellii", "Asterionellopsis_glacialis", "Cerataulina",
    "Dactyliosolen_fragilissimus", "Cylindrotheca", "Coscinodiscus", "Odontella", "Pleurosigma", "Proboscia",
    "Thalassionema", "Navicula", "Nitzschia_longissima", "Paralia_sulcata", "Eucampia", "Corethron_hystrix",
    "Centrales_sp", "centric", "pennate", "pennate_morphotype1", "diatom", "diatom_flagellate", "Bacillariophyceae",
    "DactFragCerataul", "G_delicatula_parasite", "Chaetoceros-like", "Skeletonema spp.",
    "THALASSIOSIRA_NORDENSKIOELDII",
]  # fmt: skip
NOT_DIATOMS = [
    "Dinophyceae", "Dinophysis_acuminata", "ciliate", "Mesodinium_rubrum", "Tripos_fusus", "Ceratium", "detritus",
    "unclassified", "nanoflagellate", "Phaeocystis", "mix_elongated", "Dictyocha_speculum", "Prorocentrum",
    "Pseudochattonella", "bubble", "", "Gymnodinium",
]  # fmt: skip


@pytest.mark.parametrize("name", DIATOMS)
def test_the_bundled_genera_know_diatoms(name):
    assert is_diatom(name)


@pytest.mark.parametrize("name", NOT_DIATOMS)
def test_the_bundled_genera_know_non_diatoms(name):
    assert not is_diatom(name)


def test_the_bundled_table_is_a_few_hundred_names_with_its_source():
    table = default_diatoms()
    assert table.by_genus
    assert len(table.entries) > 150
    assert all(diatom for _, diatom in table.entries)
    assert not table.warn_unknown(["Chaetoceros"])


def test_a_plain_list_matches_whole_names(tmp_path):
    path = tmp_path / "diatoms.txt"
    path.write_text("# our diatoms\nChaetoceros_chain\nPseudo-nitzschia  # spelled with a hyphen\n\nmix_elongated\n")
    table = read_diatom_list(path)
    assert is_diatom("Chaetoceros_chain", table)
    assert is_diatom("chaetoceros chain", table)  # case, spaces and underscores alike
    assert is_diatom("Pseudo_nitzschia", table)
    assert is_diatom("mix_elongated", table)
    assert not is_diatom("Chaetoceros", table)  # a user's list names classes, not genera
    assert not is_diatom("Guinardia", table)
    with pytest.raises(NotFoundError):
        read_diatom_list(tmp_path / "missing.txt")


def test_a_classlist_type_csv(tmp_path):
    # the shape of ifcb-analysis's IFCB_classlist_type.csv: CNN_classlist, then 0/1 group columns
    path = tmp_path / "IFCB_classlist_type.csv"
    path.write_text(
        "CNN_classlist,Diatom,Dinoflagellate,Ciliate,OtherNotAlive\n"
        "Chaetoceros,1,0,0,0\n"
        "Dinophysis,0,1,0,0\n"
        "Guinardia_delicatula,TRUE,0,0,0\n"
        "detritus,,0,0,1\n"
        "Laboea_strobila,false,0,1,0\n"
    )
    table = read_diatom_list(path)
    assert [name for name, diatom in table.entries if diatom] == ["Chaetoceros", "Guinardia_delicatula"]
    assert is_diatom("Guinardia_delicatula", table)
    assert not is_diatom("Dinophysis", table)
    assert not is_diatom("detritus", table)
    simple = parse_diatom_list(b"class,diatom\nfoo,yes\nbar,no\n", source="d.csv")
    assert is_diatom("foo", simple) and not is_diatom("bar", simple)


def test_a_bad_diatom_csv_names_file_and_line():
    with pytest.raises(FormatError, match="0/1 or true/false") as e:
        parse_diatom_list(b"class,diatom\nChaetoceros,1\nDinophysis,maybe\n", source="d.csv")
    assert (e.value.source, e.value.line) == ("d.csv", 3)
    with pytest.raises(FormatError, match="Diatom column") as e:
        parse_diatom_list(b"class,group\nChaetoceros,diatom\n", source="d.csv")
    assert e.value.line == 1


def test_unknown_names_of_a_users_file_are_warned_about():
    table = parse_diatom_list(b"Chaetoceros_chain\nSkeletonema\nThalassiosira\n", source="mine.txt")
    with pytest.warns(UnknownClassWarning, match=r"mine\.txt.*Skeletonema, Thalassiosira"):
        assert table.warn_unknown(["chaetoceros_chain", "Dinophysis"]) == ["Skeletonema", "Thalassiosira"]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        table.warn_unknown(["Chaetoceros_chain", "Skeletonema", "Thalassiosira", "detritus"])
