"""The Cybersource and Authorize.Net adapters, through the CLI, against their
fakes on loopback (tests/fakes/): what a merchant with either account does
in a day, what each gateway's codes become, what the requests look like.
"""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import json

import pytest

from tests.fakes import anet_xsd
from tests.fakes.cybersource_fake import SHARED_SECRET
from tests.fakes.running import start

VENDORS = ("cybersource", "authorizenet")


@pytest.fixture(params=VENDORS)
def vendor(request, tmp_path, monkeypatch):
    acquirer = start(request.param, tmp_path / "acquirer", hold_seconds=5)
    for name, value in acquirer.env().items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("MPOS_GATEWAY_TIMEOUT", "2")
    yield acquirer
    acquirer.stop()


def _vendor_requests_were_all_accepted(vendor) -> None:
    assert vendor.fake.refused == [], vendor.fake.refused
    if vendor.name == "cybersource":
        assert vendor.fake.verified > 0  # every request signed, checked by the fake's own verifier
    elif anet_xsd.available():
        assert vendor.fake.validated > 0  # every body validated against the published XSD


# -- a day's work, through the CLI ----------------------------------------------------------


def test_sales_decline_refund_void_and_settle_through_the_cli(mpos, vendor):
    contactless = mpos("charge", "12.00", "--json")
    assert contactless.exit_code == 0, contactless
    assert (contactless.json()["card"]["entry_mode"], contactless.json()["card"]["cvm"]) == ("contactless", "none")
    chip_pin = mpos("charge", "80.00", "--card", "chip", "--json")  # chip and online PIN
    assert chip_pin.exit_code == 0, chip_pin
    assert (chip_pin.json()["card"]["entry_mode"], chip_pin.json()["card"]["cvm"]) == ("chip", "online_pin")
    for sale in (contactless.json(), chip_pin.json()):
        assert vendor.entry(sale["id"])["status"] == "approved" and sale["auth_code"]
    to_void = mpos("charge", "7.00", "--json").json()
    declined = mpos("charge", "10.51", "--json")
    assert declined.exit_code == 3, declined
    assert declined.json()["response_code"] == "51" and "insufficient funds" in declined.stderr

    voided = mpos("void", to_void["id"], "--json")
    assert voided.exit_code == 0, voided
    assert vendor.entry(to_void["id"])["status"] == "reversed"

    vendor.settle_pending()  # the gateway's daily cut-off (Authorize.Net refunds settled sales only)
    refund = mpos("refund", contactless.json()["id"], "--amount", "5.00", "--json")
    assert refund.exit_code == 0, refund
    sale = mpos("journal", "show", contactless.json()["id"], "--json").json()
    assert (sale["status"], sale["refunded_minor"]) == ("partially_refunded", 500)
    assert vendor.entry(contactless.json()["id"])["refunded_minor"] == 500

    settled = mpos("settle", "--json")
    assert settled.exit_code == 0, settled
    report = settled.json()
    assert report["status"] == "balanced"
    assert report["acquirer_totals"]["EUR"]["sales_minor"] == 9200
    assert report["acquirer_totals"]["EUR"]["refunds_minor"] == 500
    _vendor_requests_were_all_accepted(vendor)


def test_settle_out_of_balance_when_the_gateway_holds_a_sale_the_journal_does_not(mpos, vendor):
    assert mpos("charge", "20.00").exit_code == 0
    vendor.foreign_sale(1500)  # taken on another device or the gateway's virtual terminal
    result = mpos("settle", "--json")
    assert result.exit_code == 7, result
    report = result.json()
    assert report["status"] == "out_of_balance"
    assert {d["field"] for d in report["differences"]} >= {"sales_count", "sales_minor"}
    again = mpos("settle", "--json")  # nothing new: the gateway's sale is not counted twice
    assert again.json()["status"] == "empty"


def test_an_unknown_outcome_is_resolved_by_the_gateways_own_lookup(mpos, vendor, isolated_home):
    # .98: the gateway commits, then holds its answer past our timeout.
    result = mpos("charge", "9.98", "--json")
    assert result.exit_code == 0, result
    assert result.json()["status"] == "approved"
    assert vendor.entry(result.json()["id"])["status"] == "approved"
    # Found by the gateway's own search by our reference, not resent.
    lookups = {"cybersource": {"/tss/v2/searches"},
               "authorizenet": {"getUnsettledTransactionListRequest", "getTransactionDetailsRequest"}}[vendor.name]
    asked = [route for _, route in vendor.fake.requests]
    assert lookups & set(asked), asked
    assert len([entry for entry in vendor.ledger() if entry["type"] == "sale"]) == 1
    from tests.helpers.agreement import disagreements, journal_transactions

    assert disagreements(journal_transactions(isolated_home), vendor.ledger()) == []


@pytest.mark.parametrize("card", ["contactless", "chip"])
def test_an_approval_without_issuer_authentication_data_completes(mpos, tmp_path, monkeypatch, card):
    """No tag 91 in the gateway's answer: contactless, the online answer
    decides; contact, the card decides (the simulated card accepts). Never
    reversed for that alone."""
    for name in VENDORS:
        acquirer = start(name, tmp_path / name, issuer_authentication=False)
        try:
            for key, value in acquirer.env().items():
                monkeypatch.setenv(key, value)
            result = mpos("charge", "15.00", "--card", card, "--json")
            assert result.exit_code == 0, (name, result)
            tx = result.json()
            assert tx["status"] == "approved"
            assert acquirer.entry(tx["id"])["status"] == "approved"  # not reversed
        finally:
            acquirer.stop()


# -- errors: one clear line, the right exit, never the secret -------------------------------------


def test_wrong_credentials_are_one_line_exit_6_and_never_the_secret(mpos, vendor, monkeypatch, isolated_home):
    wrong = base64.b64encode(b"not-the-shared-secret-at-all!!!!").decode() if vendor.name == "cybersource" \
        else "WrongKey12345678"
    monkeypatch.setenv("MPOS_GATEWAY_KEY", wrong)
    result = mpos("charge", "5.00", "--json")
    assert result.exit_code == 6, result
    lines = [line for line in result.stderr.splitlines() if line.startswith("mpos: error:")]
    assert len(lines) == 1 and "Traceback" not in result.stderr
    assert "credentials" in lines[0] or "authentication" in lines[0]
    assert wrong not in result.stdout + result.stderr
    assert vendor.ledger() == []


def test_missing_credentials_are_named(mpos, vendor, monkeypatch):
    monkeypatch.delenv("MPOS_GATEWAY_MERCHANT_ID")
    result = mpos("charge", "5.00")
    assert result.exit_code == 2, result
    assert "gateway.merchant_id" in result.stderr


def test_config_show_names_the_acquirer_and_says_which_credentials_are_present(mpos, vendor):
    shown = mpos("config", "show", "--json")
    assert shown.exit_code == 0, shown
    document = shown.json()
    assert document["acquirer"]["name"] == vendor.name
    assert all(document["acquirer"]["credentials"].values())
    text = mpos("config", "show")
    assert f"Acquirer: {vendor.name}" in text.stdout
    for secret in (vendor.key, vendor.env().get("MPOS_GATEWAY_MERCHANT_ID"), vendor.env().get("MPOS_GATEWAY_KEY_ID")):
        if secret:
            assert secret not in shown.stdout + text.stdout


# -- what goes over the wire ------------------------------------------------------------------------


def _one_card_request(mpos, scenario="chip"):
    from mpos_cli.env import Environment
    from mpos_cli.pos import PointOfSale

    result = mpos("charge", "11.00", "--card", scenario, "--json")
    assert result.exit_code == 0, result
    return result.json()


def test_cybersource_requests_carry_fluid_data_and_no_clear_card_data(tmp_path, mpos, monkeypatch):
    acquirer = start("cybersource", tmp_path / "cs")
    seen = []
    original = acquirer.fake.payment
    acquirer.fake.payment = lambda data: (seen.append(data), original(data))[1]
    try:
        for key, value in acquirer.env().items():
            monkeypatch.setenv(key, value)
        _one_card_request(mpos, "chip")
        body = seen[0]
        fluid = body["paymentInformation"]["fluidData"]
        assert fluid["encoding"] == "Base64" and fluid["keySerialNumber"]
        assert body["processingInformation"] == {"capture": True, "commerceIndicator": "retail"}
        assert body["pointOfSaleInformation"]["encryptedPin"] and body["pointOfSaleInformation"]["pinBlockEncodingFormat"] == 0
        from mpos_cli.drivers.neo2 import tlv

        tags = {obj.tag for obj in tlv.iter_objects(bytes.fromhex(body["pointOfSaleInformation"]["emv"]["tags"]))}
        assert not tags & {"56", "57", "5A", "5F20", "5F24", "99"} and "9F26" in tags
        assert acquirer.fake.verified >= 1 and acquirer.fake.refused == []
    finally:
        acquirer.stop()


def test_a_forwarded_payment_is_a_deferred_authorisation_where_the_vendor_documents_one(tmp_path):
    """Cybersource, "Card Present Connect | Retail" guide, "Deferred
    Authorization": processingInformation.authorizationOptions.
    deferredAuthIndicator = true in the sale request; REST field reference:
    pointOfSaleInformation.storeAndForwardIndicator = Y ("stored and then
    forwarded"). Authorize.Net documents no such mark (AnetApiSchema.xsd has
    none): its body for a forwarded payment is the sale's, and still valid."""
    from mpos_cli.gateway.authorizenet import AuthorizeNetGateway
    from mpos_cli.gateway.cybersource import CybersourceGateway
    from mpos_cli.gateway.vendor import AdapterSettings
    from tests.helpers.gateway import card_request

    online = card_request(1500, entry_mode="contactless", pin=None)
    forwarded = dataclasses.replace(online, deferred=True)
    cybersource = CybersourceGateway(AdapterSettings(
        "cybersource", "http://127.0.0.1:9", "127.0.0.1:9", "mid", "kid", SHARED_SECRET, 2.0, None, "EUR", tmp_path))
    try:
        now, later = cybersource.authorisation_body(online), cybersource.authorisation_body(forwarded)
    finally:
        cybersource.close()
    assert "authorizationOptions" not in now["processingInformation"]
    assert "storeAndForwardIndicator" not in now["pointOfSaleInformation"]
    assert later["processingInformation"]["authorizationOptions"] == {"deferredAuthIndicator": True}
    assert later["pointOfSaleInformation"]["storeAndForwardIndicator"] == "Y"

    authorizenet = AuthorizeNetGateway(AdapterSettings(
        "authorizenet", "http://127.0.0.1:9", "127.0.0.1:9", "mposLogin42", None, "Tk9mPos7Fake3Key", 2.0, None,
        "EUR", tmp_path))
    try:
        now, later = authorizenet.authorisation_body(online), authorizenet.authorisation_body(forwarded)
    finally:
        authorizenet.close()
    assert later == now  # the same sale: the same invoice number, the duplicate window still guards it
    if anet_xsd.available():
        assert anet_xsd.errors_of(later) == []


@pytest.mark.skipif(not anet_xsd.available(), reason=anet_xsd.MISSING_REASON)
def test_authorizenet_bodies_validate_against_the_published_xsd_and_a_wrong_order_does_not(tmp_path):
    from mpos_cli.gateway.authorizenet import AuthorizeNetGateway
    from mpos_cli.gateway.vendor import AdapterSettings
    from tests.helpers.gateway import card_request

    settings = AdapterSettings("authorizenet", "http://127.0.0.1:9", "127.0.0.1:9", "mposLogin42", None,
                               "Tk9mPos7Fake3Key", 2.0, None, "EUR", tmp_path)
    gateway = AuthorizeNetGateway(settings)
    for entry_mode in ("chip", "contactless", "swipe"):
        body = gateway.authorisation_body(card_request(1234, entry_mode=entry_mode, tip_minor=100,
                                                       pin=None if entry_mode == "swipe" else "1234"))
        assert anet_xsd.errors_of(body) == [], entry_mode
    transaction = body["createTransactionRequest"]["transactionRequest"]
    reordered = dict(reversed(list(transaction.items())))  # the JSON API is order-sensitive, like the XML
    broken = {"createTransactionRequest": {**body["createTransactionRequest"], "transactionRequest": reordered}}
    assert anet_xsd.errors_of(broken) != []
    gateway.close()


# -- HTTP Signature, against published examples ---------------------------------------------------


def test_the_signing_string_is_the_documented_validation_string():
    """Cybersource developer guide, "Generate the Signature Hash" >
    "Validation String Example": host, date, request-target, digest,
    v-c-merchant-id, one per line, in the signed order."""
    from mpos_cli.gateway.cybersource import POST_HEADERS, signing_string

    values = {"host": "apitest.cybersource.com", "date": "Thu, 18 Jul 2019 00:18:03 GMT",
              "digest": "SHA-256=gXWufV4Zc7VkN9Wkv9jh/JuAVclqDusx3vkyo3uJFWU=", "v-c-merchant-id": "mymerchantid"}
    assert signing_string(POST_HEADERS, values, "POST", "/pts/v2/payments/") == (
        "host: apitest.cybersource.com\n"
        "date: Thu, 18 Jul 2019 00:18:03 GMT\n"
        "request-target: post /pts/v2/payments/\n"
        "digest: SHA-256=gXWufV4Zc7VkN9Wkv9jh/JuAVclqDusx3vkyo3uJFWU=\n"
        "v-c-merchant-id: mymerchantid"
    )


def test_the_signature_of_the_documented_baseline_post():
    """Visa Acceptance / Cybersource developer center, "Test the Message",
    baseline for POST requests: secret key 0123k20MBbIB2t012345678993gHCIZsQKFpf7dR0hY=,
    host apitest.visaacceptance.com, date Fri, 14 Dec 2018 00:00:00 GMT, resource
    /pts/v2/payments/, merchant testmid, the digest it gives for its body, and the
    resulting signature it publishes (headers signed with the older
    "(request-target)" name, as the page was written)."""
    from mpos_cli.gateway.cybersource import sign, signing_string

    values = {"host": "apitest.visaacceptance.com", "date": "Fri, 14 Dec 2018 00:00:00 GMT",
              "digest": "SHA-256=a/goIo1XUCr80rnKFCWp7yRpwVL50E9RaunuEHh11XM=", "v-c-merchant-id": "testmid"}
    names = ("host", "date", "(request-target)", "digest", "v-c-merchant-id")
    text = signing_string(names, values, "POST", "/pts/v2/payments/")
    assert sign("0123k20MBbIB2t012345678993gHCIZsQKFpf7dR0hY=", text) == "ViHPF/tRP+jlFkWaUWBB53WQ6ASQ1ox1zbJ7ApVc7Q8="


def test_the_digest_header_of_the_http_signatures_draft_example():
    """draft-cavage-http-signatures (the IETF draft Cybersource's guide points
    to), appendix C: body {"hello": "world"} -> Digest:
    SHA-256=X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE="""
    from mpos_cli.gateway.cybersource import body_digest

    assert body_digest(b'{"hello": "world"}') == "SHA-256=X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE="


def test_hmac_over_a_base64_secret_matches_rfc_4231_case_2():
    """RFC 4231 test case 2: key "Jefe", data "what do ya want for nothing?";
    the shared secret is given base64-encoded, as Cybersource issues it."""
    from mpos_cli.gateway.cybersource import sign

    expected = bytes.fromhex("5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843")
    assert sign(base64.b64encode(b"Jefe").decode(), "what do ya want for nothing?") == \
        base64.b64encode(expected).decode()
    assert hashlib.sha256(b"").hexdigest()  # (the body hash above is SHA-256 as FIPS 180-4 defines it)


# -- the code tables ------------------------------------------------------------------------------


def test_each_gateways_decline_codes_become_iso_codes_in_plain_words(mpos, vendor):
    for total, code, words in (("10.05", "05", "do not honour"), ("10.54", "54", "expired card"),
                               ("10.91", "91", "issuer unavailable")):
        result = mpos("charge", total, "--json")
        assert result.exit_code == 3, result
        assert result.json()["response_code"] == code and words in result.stderr, result
    json.dumps(vendor.ledger())
