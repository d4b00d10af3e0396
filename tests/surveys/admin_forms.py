"""An admin page's form as the researcher's browser posts it back untouched: each field at its shown
value (a disabled one is never posted), and the management form of each inline table on the page."""


def _shown_values(form) -> dict:
    data = {}
    for name, field in form.fields.items():
        value = form[name].value()
        if field.disabled or value is None or value is False:
            continue
        data[form.add_prefix(name)] = "on" if value is True else value
    return data


def form_as_shown(client, url: str) -> dict:
    context = client.get(url).context
    data = _shown_values(context["adminform"].form)
    for inline in context.get("inline_admin_formsets") or []:
        formset = inline.formset
        data |= _shown_values(formset.management_form)
        for form in formset.forms:
            data |= _shown_values(form)
    return data
