"""WhiteNoise, able to sit in an async middleware chain; and no caching of anything else."""

from asgiref.sync import iscoroutinefunction, markcoroutinefunction
from django.utils.cache import add_never_cache_headers
from django.utils.deprecation import MiddlewareMixin
from whitenoise.middleware import WhiteNoiseMiddleware


class StaticFilesMiddleware(WhiteNoiseMiddleware):
    """Serves static files as WhiteNoise does, and passes everything else on without a thread hop.

    WhiteNoise's middleware is sync only. Under Daphne one sync-only middleware makes Django run the
    whole chain of every request in its single sync thread, so an async view (the triage preview,
    which hands its CPU work to a worker thread) would still hold up every other request.
    """

    sync_capable = True
    async_capable = True

    def __init__(self, get_response):
        super().__init__(get_response)
        self.is_async = iscoroutinefunction(get_response)
        if self.is_async:
            markcoroutinefunction(self)

    def __call__(self, request):
        if self.is_async:
            return self._serve_or_pass_on(request)
        return super().__call__(request)

    async def _serve_or_pass_on(self, request):
        static_file = self.find_file(request.path_info) if self.autorefresh else self.files.get(request.path_info)
        if static_file is not None:
            return self.serve(static_file, request)  # opens the file; its body streams as the client reads
        return await self.get_response(request)


class NotStoredMiddleware(MiddlewareMixin):
    """Every answer after the static files is kept by no browser cache or proxy, unless its view says otherwise.

    They hold customers' words and who said them, and agents share desks: after one signs out, Back
    must not bring another's inbox out of the disk cache. Static files are answered above this one,
    with WhiteNoise's long cache lifetimes.
    """

    def process_response(self, request, response):
        if not response.has_header("Cache-Control"):
            add_never_cache_headers(response)
        return response
