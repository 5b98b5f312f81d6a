"""`/api/vms/ID/backup-schedule/` and `/api/templates/ID/backup-schedule/`: when a VM (or every
VM of a template) is backed up by itself, and what is kept (`onevm backup-schedule`,
`onetemplate backup-schedule`)."""

from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from backups import schedules
from backups.models import WEEKDAYS, BackupSchedule
from core.api.errors import ErrorSerializer
from core.tenancy import CHANGE, for_change
from vms.models import VM, VMTemplate


class ScheduleSerializer(serializers.ModelSerializer):
    day = serializers.SerializerMethodField()
    described = serializers.CharField(source="describe", read_only=True)
    inherited = serializers.SerializerMethodField()

    class Meta:
        model = BackupSchedule
        fields = [
            "frequency",
            "at",
            "day",
            "keep_daily",
            "keep_weekly",
            "keep_monthly",
            "described",
            "inherited",
        ]

    def get_day(self, schedule) -> str:
        if schedule.weekday is not None:
            return WEEKDAYS[schedule.weekday]
        return str(schedule.monthday or "")

    def get_inherited(self, schedule) -> bool:
        """True when a VM follows its template's schedule."""
        return schedule.vm_id is None and self.context.get("for_vm", False)


class ScheduleInputSerializer(serializers.Serializer):
    frequency = serializers.CharField(help_text="daily, weekly or monthly")
    at = serializers.CharField(help_text="HH:MM, UTC")
    day = serializers.CharField(
        required=False, allow_blank=True, help_text="weekly: mon..sun; monthly: 1-28"
    )
    keep_daily = serializers.IntegerField(required=False, min_value=0)
    keep_weekly = serializers.IntegerField(required=False, min_value=0)
    keep_monthly = serializers.IntegerField(required=False, min_value=0)


class _ScheduleView(APIView):
    model = VM

    def target(self, request, pk, action="view"):
        if action == CHANGE:
            return for_change(self.model.objects, request.user, pk)
        return get_object_or_404(self.model.objects.for_user(request.user), pk=pk)

    def current(self, target):
        if isinstance(target, VM):
            return schedules.schedule_of(target)
        return BackupSchedule.objects.filter(template=target).first()

    @extend_schema(responses={200: ScheduleSerializer, 404: ErrorSerializer})
    def get(self, request, pk):
        """The schedule (a VM's own, else its template's); 404 when there is none."""
        schedule = self.current(self.target(request, pk))
        if schedule is None:
            return Response({"detail": "no backup schedule"}, status=status.HTTP_404_NOT_FOUND)
        context = {"for_vm": self.model is VM}
        return Response(ScheduleSerializer(schedule, context=context).data)

    @extend_schema(
        request=ScheduleInputSerializer, responses={200: ScheduleSerializer, 400: ErrorSerializer}
    )
    def put(self, request, pk):
        body = ScheduleInputSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        schedule = schedules.set_schedule(
            request.user, self.target(request, pk, "change"), dict(body.validated_data)
        )
        return Response(ScheduleSerializer(schedule).data)

    @extend_schema(responses={204: None})
    def delete(self, request, pk):
        schedules.clear(request.user, self.target(request, pk, "change"))
        return Response(status=status.HTTP_204_NO_CONTENT)


class VMScheduleView(_ScheduleView):
    model = VM


class TemplateScheduleView(_ScheduleView):
    model = VMTemplate
