"""POST /api/v1/_floor/: authenticate a provider token, parse the JSON body, insert one row.

Everything Lamina's intake pays for that is not Lamina's own work (routing, token lookup, the
throttle, JSON parsing and rendering, one INSERT in a transaction) and nothing else. The intake
benchmark reports intake latency as a multiple of this floor measured in the same run.
"""

from drf_spectacular.utils import extend_schema
from rest_framework.response import Response
from rest_framework.views import APIView

from benchfloor.models import FloorRow
from reviews.api.permissions import IsProvider


# Not part of the provider contract: a measuring instrument, kept out of the OpenAPI schema.
@extend_schema(exclude=True)
class FloorCreateApi(APIView):
    permission_classes = [IsProvider]

    def post(self, request):
        row = FloorRow.objects.create(submitted_by=request.user, payload=request.data)
        return Response({"id": row.pk}, status=201)
