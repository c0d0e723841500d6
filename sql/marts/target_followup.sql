-- target_followup: every target of every pipeline file, held against the warehouse at the project's
-- report date. Actual values count unique individuals (ESF counting). Status:
--   met       the target is reached (for count targets it cannot be lost again);
--   on_track  the period is still running and the actual value keeps pace: a count target at or above
--             its pro-rata share of the target for the elapsed part of the period, a share target at or
--             above the target;
--   behind    the period is still running and the value is below that pace;
--   not_met   the period has ended (report date on or after its end) and the target is not reached.
-- People with the same gender and exit are counted together first (`n`), so each target meets a few
-- groups instead of every participant of its project.
with people as (
    select project_id, gender, exited, exit_outcome, count(*) as n
    from participant_entry
    group by project_id, gender, exited, exit_outcome
),

targets_with_project as (
    select t.*, p.report_date, p.period_start, p.period_end
    from targets as t
    join projects as p on p.project_id = t.project_id
),

actuals as (
    select
        t.project_id,
        t.target_id,
        case t.metric
            when 'participants' then cast(coalesce(sum(pe.n), 0) as double)
            when 'share_women' then
                cast(sum(case when pe.gender = 'woman' then pe.n else 0 end) as double)
                / nullif(coalesce(sum(pe.n), 0), 0)
            when 'exits_to' then
                cast(sum(case when pe.exited and strpos(',' || t.outcomes || ',', ',' || pe.exit_outcome || ',') > 0
                    then pe.n else 0 end) as double)
            when 'share_exits_to' then
                cast(sum(case when pe.exited and strpos(',' || t.outcomes || ',', ',' || pe.exit_outcome || ',') > 0
                    then pe.n else 0 end) as double)
                / nullif(sum(case when pe.exited then pe.n else 0 end), 0)
        end as actual_value,
        coalesce(sum(pe.n), 0) as participants,
        sum(case when pe.exited then pe.n else 0 end) as exited
    from targets_with_project as t
    left join people as pe on pe.project_id = t.project_id
    group by t.project_id, t.target_id, t.metric, t.outcomes
),

paced as (
    select
        t.*,
        a.actual_value,
        a.participants,
        a.exited,
        least(1.0, greatest(0.0,
            cast(t.report_date - t.period_start as double)
            / nullif(cast(t.period_end - t.period_start as double), 0)
        )) as elapsed_share
    from targets_with_project as t
    join actuals as a on a.project_id = t.project_id and a.target_id = t.target_id
),

final as (
    select
        project_id,
        target_id,
        name,
        metric,
        op,
        target_value,
        actual_value,
        outcomes,
        report_date,
        period_end,
        round(elapsed_share, 4) as elapsed_share,
        participants,
        exited,
        case
            when actual_value is null then 'no_data'
            when op = '>=' and actual_value >= target_value
                and (metric in ('participants', 'exits_to') or report_date >= period_end) then 'met'
            when op = '<=' and actual_value <= target_value and report_date >= period_end then 'met'
            when report_date >= period_end then 'not_met'
            when op = '>=' and metric in ('participants', 'exits_to')
                and actual_value >= target_value * elapsed_share then 'on_track'
            when op = '>=' and metric in ('share_women', 'share_exits_to')
                and actual_value >= target_value then 'on_track'
            when op = '<=' and actual_value <= target_value then 'on_track'
            else 'behind'
        end as status,
        source_text
    from paced
)

select * from final
order by project_id, target_id
