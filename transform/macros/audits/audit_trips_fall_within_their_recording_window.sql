{% macro audit_trips_fall_within_their_recording_window(relation) -%}
    {#- A file covers part of the time window in its name: every trip of a
        recording with a window is seen inside it (Europe/Athens local time). -#}
    select
        trips.track_id,
        trips.entered_at,
        trips.exited_at
    from {{ relation }} as trips
    inner join {{ ref('stg_pneuma__recordings') }} as recordings
        on recordings.recording_id = current_setting('pneuma.recording_id')
    where
        recordings.recording_start_at is not null
        and (
            trips.entered_at < recordings.recording_start_at
            or trips.exited_at > recordings.recording_end_at
        )
{%- endmacro %}
