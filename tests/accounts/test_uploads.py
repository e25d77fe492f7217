"""Uploads are judged by their bytes: workbooks, CSV text and photos, with a clear refusal for anything else."""

import io
import uuid
import zipfile

import pytest
from django.contrib.auth.models import Permission
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils.translation import override
from openpyxl import Workbook
from PIL import Image
from rest_framework.test import APIClient

from accounts.roles import Role
from accounts.uploads import PHOTO_KINDS, UploadRefused, check_upload, sniff
from production.models import Downtime, ReportEvent, WorkCenter
from tests.production.floor_builders import make_work_order, steps


def xlsx_bytes() -> bytes:
    buffer = io.BytesIO()
    Workbook().save(buffer)
    return buffer.getvalue()


def image_bytes(image_format: str) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (8, 8), "red").save(buffer, image_format)
    return buffer.getvalue()


def zip_bytes(entries: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in entries.items():
            archive.writestr(name, data)
    return buffer.getvalue()


@pytest.mark.parametrize(
    ("content", "kind"),
    [
        (xlsx_bytes, "xlsx"),
        (lambda: bytes.fromhex("D0CF11E0A1B11AE1") + b"\0" * 512, "xls"),
        (lambda: "物料编码,名称\nA-1,轴承座\n".encode(), "csv"),
        (lambda: "物料编码,名称\nA-1,轴承座\n".encode("gb18030"), "csv"),
        (lambda: image_bytes("JPEG"), "jpeg"),
        (lambda: image_bytes("PNG"), "png"),
        (lambda: image_bytes("WEBP"), "webp"),
        (lambda: image_bytes("GIF"), "unknown"),
        (lambda: zip_bytes({"word/document.xml": b"<w/>", "[Content_Types].xml": b"<t/>"}), "zip"),
        (lambda: b"PK\x03\x04 not really a zip", "unknown"),
        (lambda: b"\x7fELF\x02\x01\x01\x00" + b"\0" * 64, "unknown"),
    ],
)
def test_it_tells_the_kind_of_a_file_from_its_bytes(content, kind):
    assert sniff(io.BytesIO(content())) == kind


@override("en")
def test_it_refuses_an_empty_a_too_large_or_a_foreign_file_with_a_clear_message():
    with pytest.raises(UploadRefused, match="empty") as empty:
        check_upload(io.BytesIO(b""), allowed=PHOTO_KINDS, max_bytes=1000)
    with pytest.raises(UploadRefused, match=r"too large: 0\.0 MB, at most 0\.0 MB") as large:
        check_upload(io.BytesIO(image_bytes("PNG") + b"\0" * 2000), allowed=PHOTO_KINDS, max_bytes=1000)
    with pytest.raises(UploadRefused, match=r"This file is an Excel \.xlsx workbook; send a photo") as foreign:
        check_upload(io.BytesIO(xlsx_bytes()), allowed=PHOTO_KINDS, max_bytes=10**6, what="a photo")
    assert (empty.value.code, large.value.code, foreign.value.code) == (
        "upload_empty",
        "upload_too_large",
        "upload_type",
    )
    assert check_upload(io.BytesIO(image_bytes("WEBP")), allowed=PHOTO_KINDS, max_bytes=10**6) == "webp"


def test_it_refuses_a_workbook_that_would_unpack_to_an_implausible_size():
    bomb = zip_bytes(
        {"[Content_Types].xml": b"<t/>", "xl/workbook.xml": b"<w/>", "xl/worksheets/sheet1.xml": b"\0" * 20_000_000}
    )
    assert len(bomb) < 100_000
    with pytest.raises(UploadRefused) as refused:
        check_upload(io.BytesIO(bomb), allowed={"xlsx"}, max_bytes=20 * 1024 * 1024)
    assert refused.value.code == "upload_bomb"


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("物料编码,名称\nA-1,轴承座\n".encode(), "not an Excel .xlsx workbook but CSV text"),
        (zip_bytes({"word/document.xml": b"<w/>", "[Content_Types].xml": b"<t/>"}), "not an Excel .xlsx workbook."),
        (image_bytes("PNG"), "not an Excel .xlsx workbook."),
        (b"", "The submitted file is empty."),
    ],
)
def test_the_master_data_upload_refuses_what_is_not_a_workbook_whatever_its_name(client, users, content, message):
    client.force_login(users[Role.IT_ADMIN])
    client.cookies["django_language"] = "en"

    upload = SimpleUploadedFile("items.xlsx", content)
    response = client.post(reverse("masterdata:import", args=["items"]), {"file": upload})

    assert response.status_code == 400
    assert message in response.content.decode()


@pytest.mark.django_db
def test_the_master_data_upload_refuses_a_zip_bomb_named_xlsx(client, users):
    client.force_login(users[Role.IT_ADMIN])
    client.cookies["django_language"] = "en"
    bomb = zip_bytes(
        {"[Content_Types].xml": b"<t/>", "xl/workbook.xml": b"<w/>", "xl/worksheets/sheet1.xml": b"\0" * 20_000_000}
    )

    response = client.post(reverse("masterdata:import", args=["items"]), {"file": SimpleUploadedFile("i.xlsx", bomb)})

    assert response.status_code == 400
    assert "unpacks to an implausible size" in response.content.decode()


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("content", "accepted"),
    [
        (lambda: image_bytes("PNG"), True),  # a PNG named .jpg is still a PNG
        (lambda: image_bytes("GIF"), False),
        (lambda: image_bytes("BMP"), False),
        (xlsx_bytes, False),
        (lambda: b"\xff\xd8\xff\xe0 a JPEG header and nothing else", False),
    ],
)
def test_a_floor_photo_is_accepted_only_as_jpeg_png_or_webp(users, settings, tmp_path, content, accepted):
    settings.MEDIA_ROOT = tmp_path
    operation = steps(make_work_order())[0]
    client = APIClient(HTTP_ACCEPT_LANGUAGE="en")
    client.force_login(users[Role.OPERATOR])
    start = {"operation_code": operation.code, "action": "start", "client_uuid": str(uuid.uuid4())}
    assert client.post("/api/v1/report-events/", start, format="json").status_code == 201

    body = {
        "operation_code": operation.code,
        "action": "pause",
        "reason": "machine",
        "client_uuid": str(uuid.uuid4()),
        "photo": SimpleUploadedFile("mould.jpg", content(), "image/jpeg"),
    }
    response = client.post("/api/v1/report-events/", body, format="multipart")

    if accepted:
        assert response.status_code == 201
        assert ReportEvent.objects.get(action="pause").photo
    else:
        assert response.status_code == 400
        assert response.json()["code"] == "photo_invalid"
        assert "JPEG, PNG or WebP" in response.json()["detail"]
        assert not ReportEvent.objects.filter(action="pause").exists()


@pytest.mark.django_db
def test_the_admin_refuses_a_downtime_photo_that_is_not_jpeg_png_or_webp(client, users, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    steps(make_work_order())
    center = WorkCenter.objects.first()
    client.force_login(users[Role.IT_ADMIN])
    client.cookies["django_language"] = "en"
    users[Role.IT_ADMIN].user_permissions.add(
        *Permission.objects.filter(codename__in=["add_downtime", "view_downtime", "change_downtime"])
    )
    response = client.post(
        "/admin/production/downtime/add/",
        {
            "work_center": center.pk,
            "reason": "mould_damaged",
            "started_at_0": "2026-11-24",
            "started_at_1": "08:00:00",
            "photo": SimpleUploadedFile("mould.jpg", image_bytes("GIF"), "image/jpeg"),
        },
    )

    assert response.status_code == 200
    assert "JPEG, PNG or WebP" in response.content.decode()
    assert not Downtime.objects.exists()
