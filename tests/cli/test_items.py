"""mpos items and mpos charge --item through the CLI (SPEC §3, §5 items)."""

from __future__ import annotations

import pytest


@pytest.fixture
def catalogue(mpos):
    for args in (("Yoga class", "12", "--vat", "20"), ("Mat", "€3", "--vat", "5.5"), ("Drink", "2,50")):
        result = mpos("items", "add", *args)
        assert result.exit_code == 0, result
    return mpos


def journal(mpos):
    result = mpos("journal", "list", "--json")
    assert result.exit_code == 0, result
    return result.json()


def test_items_are_listed_in_the_order_added_with_exact_prices_and_vat(catalogue):
    listed = catalogue("items", "list", "--json").json()
    assert [(i["name"], i["unit_minor"], i["currency"], i["vat_basis_points"]) for i in listed] == [
        ("Yoga class", 1200, "EUR", 2000), ("Mat", 300, "EUR", 550), ("Drink", 250, "EUR", None),
    ]
    assert [i["vat_percent"] for i in listed] == ["20", "5.5", None]
    human = catalogue("items", "list").stdout
    assert "Yoga class" in human and "€12.00" in human and "5.5%" in human


def test_names_are_unique_whatever_their_case(catalogue):
    result = catalogue("items", "add", "YOGA CLASS", "9")
    assert result.exit_code == 2
    assert result.stderr.startswith("mpos: error: there is already an item 'Yoga class'")
    assert len(catalogue("items", "list", "--json").json()) == 3


def test_remove_takes_any_case_and_an_unknown_name_is_exit_2(catalogue):
    assert catalogue("items", "remove", "drink").exit_code == 0
    assert [i["name"] for i in catalogue("items", "list", "--json").json()] == ["Yoga class", "Mat"]
    result = catalogue("items", "remove", "drink")
    assert result.exit_code == 2 and "no item 'drink'" in result.stderr


def test_prices_follow_the_currency_minor_units(mpos):
    assert mpos("items", "add", "Ramen", "1200", "--currency", "JPY").exit_code == 0
    assert mpos("items", "add", "Dates", "1.250", "--currency", "KWD").exit_code == 0
    listed = mpos("items", "list", "--json").json()
    assert [(i["unit_minor"], i["price"]) for i in listed] == [(1200, "1200"), (1250, "1.250")]


@pytest.mark.parametrize("args, words", [
    (("Soup", "12.505"), "too many decimals"),
    (("Soup", "0"), "more than zero"),
    (("Soup", "abc"), "not an amount"),
    (("Soup", "5", "--currency", "XYZ"), "unknown currency"),
    (("Soup", "5", "--vat", "120"), "VAT rate of more than 100%"),
    (("Soup", "5", "--vat", "twenty"), "not a percentage"),
    (("Soup*2", "5"), "cannot contain '*'"),
    (("  ", "5"), "needs a name"),
])
def test_bad_items_are_refused_and_nothing_is_written(mpos, isolated_home, args, words):
    result = mpos("items", "add", *args)
    assert result.exit_code == 2, result
    assert result.stderr.startswith("mpos: error:") and words in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert not (isolated_home / "catalogue").exists()


def test_charge_with_items_charges_their_sum_and_keeps_the_lines(catalogue):
    result = catalogue("charge", "--item", "yoga class", "--item", "Mat*2", "--json")
    assert result.exit_code == 0, result
    tx = result.json()
    assert (tx["status"], tx["amount_minor"], tx["total_minor"]) == ("approved", 1800, 1800)
    assert tx["items"] == [
        {"name": "Yoga class", "quantity": 1, "unit_minor": 1200, "vat_basis_points": 2000},
        {"name": "Mat", "quantity": 2, "unit_minor": 300, "vat_basis_points": 550},
    ]
    shown = catalogue("journal", "show", tx["id"], "--json").json()
    assert shown["items"] == tx["items"]


def test_charge_with_items_and_the_matching_amount_and_a_tip(catalogue):
    result = catalogue("charge", "5.50", "--item", "Drink", "--item", "Mat", "--tip", "1", "--json")
    assert result.exit_code == 0, result
    tx = result.json()
    assert (tx["amount_minor"], tx["tip_minor"], tx["total_minor"]) == (550, 100, 650)


def test_a_sale_without_items_has_an_empty_list(mpos):
    assert mpos("charge", "4", "--json").json()["items"] == []


@pytest.mark.parametrize("args, words", [
    (("--item", "Hat"), "no item 'Hat' in the catalogue"),
    (("--item", "Mat*0"), "bad quantity"),
    (("--item", "Mat*two"), "bad quantity"),
    (("--item", "Mat*-1"), "bad quantity"),
    (("--item", "Mat*10000"), "bad quantity"),
    (("17", "--item", "Yoga class", "--item", "Mat*2"), "is not the items' sum 18.00 EUR"),
    (("--item", "Mat", "--currency", "USD"), "priced in EUR, the sale is in USD"),
])
def test_bad_items_on_a_charge_are_exit_2_and_nothing_is_written(catalogue, args, words):
    result = catalogue("charge", *args, "--json")
    assert result.exit_code == 2, result
    assert result.stdout == ""
    assert words in result.stderr and len(result.stderr.strip().splitlines()) == 1
    assert journal(catalogue) == []
