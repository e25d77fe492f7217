"""Regional spellings of an operation resolve to its one standard name."""

import pytest

from accounts.errors import ApplicationError
from production.models import OperationAlias
from production.selectors import operation_resolve
from production.services import operation_alias_add, operation_create

pytestmark = pytest.mark.django_db


@pytest.fixture
def fine_grinding():
    return operation_create(code="OP-FG", name="精磨", aliases=["细磨", "Fine Grinding"], by=None)


@pytest.mark.parametrize("written", ["精磨", "细磨", " 细 磨 ", "fine grinding", "ＦＩＮＥ　ＧＲＩＮＤＩＮＧ", "op-fg"])
def test_every_spelling_resolves_to_the_standard_operation(fine_grinding, written):
    assert operation_resolve(written) == fine_grinding


def test_an_unknown_name_resolves_to_nothing(fine_grinding):
    assert operation_resolve("抛光") is None
    assert operation_resolve("   ") is None


def test_an_alias_cannot_mean_two_operations(fine_grinding):
    rough = operation_create(code="OP-RG", name="粗磨", by=None)
    with pytest.raises(ApplicationError) as error:
        operation_alias_add(operation=rough, alias="细磨", by=None)
    assert error.value.code == "alias_taken"
    assert OperationAlias.objects.get(alias="细磨").operation == fine_grinding


def test_adding_an_existing_alias_again_changes_nothing(fine_grinding):
    operation_alias_add(operation=fine_grinding, alias="细磨", by=None)
    assert OperationAlias.objects.filter(operation=fine_grinding).count() == 2
