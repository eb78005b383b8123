"""What Django's error reports (the DEBUG page, the mails to ADMINS) may show."""

from django.views.debug import SafeExceptionReporterFilter


class SecretsHidingFilter(SafeExceptionReporterFilter):
    """Django's filter, also hiding by name what the default shows: local variables and POST fields.

    Any local variable, POST (or other QueryDict) field or dict key whose name matches
    `hidden_settings` (API, AUTH, TOKEN, KEY, SECRET, PASS, SIGNATURE, case-insensitive: `token`,
    `consumer_secret`, `replace_secret_app_secret`, `password`, an `Authorization` header) is shown
    as stars. It applies with DEBUG on too: a debug page on a reachable server must not become a
    leak. `sensitive_variables` and `sensitive_post_parameters` still hide more.
    """

    def is_active(self, request) -> bool:
        return True

    def get_post_parameters(self, request):
        return self._cleansed(super().get_post_parameters(request))

    def get_cleansed_multivaluedict(self, request, multivaluedict):
        return self._cleansed(super().get_cleansed_multivaluedict(request, multivaluedict))

    def get_traceback_frame_variables(self, request, tb_frame):
        return [
            (name, self.cleanse_setting(name, value))
            for name, value in super().get_traceback_frame_variables(request, tb_frame)
        ]

    def _cleansed(self, parameters):
        hidden = [key for key in parameters if self.hidden_settings.search(str(key))]
        if not hidden:
            return parameters
        parameters = parameters.copy()
        for key in hidden:
            parameters[key] = self.cleansed_substitute
        return parameters
