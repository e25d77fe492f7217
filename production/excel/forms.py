"""The upload form of the master-data import page."""

from django import forms
from django.utils.translation import gettext_lazy as _

from production.excel.importer import MAX_FILE_BYTES, MAX_FILE_MB


class UploadForm(forms.Form):
    """An .xlsx to import, and whether only to check it."""

    file = forms.FileField(label=_("Excel file (.xlsx)"))
    dry_run = forms.BooleanField(label=_("Check only, write nothing"), required=False)

    def clean_file(self):
        upload = self.cleaned_data["file"]
        # Refused before openpyxl reads it; the content itself is judged by the importer, not by the name.
        if upload.size > MAX_FILE_BYTES:
            raise forms.ValidationError(_("The file is larger than %(size)d MB.") % {"size": MAX_FILE_MB})
        return upload
