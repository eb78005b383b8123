import pytest
from django.db import IntegrityError, transaction

from customers.models import Customer, Identity, Network
from tests.factories import make_customer


@pytest.mark.django_db
def test_an_identity_is_unique_per_network_and_external_id():
    dana, fox = make_customer("Dana"), make_customer("Fox")
    Identity.objects.create(customer=dana, network=Network.X, external_id="1234", handle="@dana")

    with pytest.raises(IntegrityError), transaction.atomic():
        Identity.objects.create(customer=fox, network=Network.X, external_id="1234", handle="@fox")

    # The same id on another network is another person's account.
    Identity.objects.create(customer=fox, network=Network.FACEBOOK, external_id="1234")
    assert Identity.objects.get(network=Network.X, external_id="1234").customer == dana


@pytest.mark.django_db
def test_a_customer_cannot_be_merged_into_itself():
    dana = make_customer("Dana")
    with pytest.raises(IntegrityError), transaction.atomic():
        Customer.objects.filter(pk=dana.pk).update(merged_into=dana)


@pytest.mark.django_db
def test_an_external_crm_reference_belongs_to_one_customer():
    make_customer("Dana", external_ref="KM-1")
    make_customer("Blank ref one")
    make_customer("Blank ref two")  # empty references do not collide
    with pytest.raises(IntegrityError), transaction.atomic():
        make_customer("Fox", external_ref="KM-1")


def test_first_name_is_the_first_word_of_the_name():
    assert Customer(name="Dana Katherine Scully").first_name == "Dana"
    assert Customer(name="  ").first_name == ""
