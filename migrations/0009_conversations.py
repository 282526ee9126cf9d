from tortoise import migrations
from tortoise.migrations import operations as ops
from gql_server.clock import now
from gql_server.models.enums import ActorKind, MessageKind, RestrictionKind, ThreadState
from tortoise.fields.base import OnDelete
from tortoise import fields
from tortoise.indexes import Index
from tortoise.migrations.constraints import CheckConstraint

class Migration(migrations.Migration):
    dependencies = [('models', '0008_exports')]

    initial = False

    operations = [
        ops.CreateModel(
            name='Announcement',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('created_at', fields.DatetimeField(default=now, auto_now=False, auto_now_add=False)),
                ('account', fields.ForeignKeyField('models.Account', source_field='account_id', db_constraint=True, to_field='id', related_name='announcements', on_delete=OnDelete.CASCADE)),
                ('task', fields.ForeignKeyField('models.Task', source_field='task_id', db_constraint=True, to_field='id', related_name='announcements', on_delete=OnDelete.CASCADE)),
                ('member', fields.ForeignKeyField('models.Member', source_field='member_id', null=True, db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.SET_NULL)),
                ('body', fields.TextField(unique=False)),
                ('day', fields.DateField()),
                ('recipient_count', fields.IntField(default=0)),
            ],
            options={'table': 'announcement', 'app': 'models', 'unique_together': (('task', 'day'),), 'pk_attr': 'id', 'table_description': 'A message from the team to every worker with a submission on a task.'},
            bases=['Entity'],
        ),
        ops.CreateModel(
            name='AnnouncementRecipient',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('created_at', fields.DatetimeField(default=now, auto_now=False, auto_now_add=False)),
                ('announcement', fields.ForeignKeyField('models.Announcement', source_field='announcement_id', db_constraint=True, to_field='id', related_name='recipients', on_delete=OnDelete.CASCADE)),
                ('worker', fields.ForeignKeyField('models.Worker', source_field='worker_id', db_constraint=True, to_field='id', related_name='announcements', on_delete=OnDelete.CASCADE)),
            ],
            options={'table': 'announcement_recipient', 'app': 'models', 'unique_together': (('announcement', 'worker'),), 'indexes': [Index(fields=['worker_id', 'created_at'], name='announcement_worker')], 'pk_attr': 'id', 'table_description': 'A worker an announcement reached.'},
            bases=['Entity'],
        ),
        ops.CreateModel(
            name='InstructionRevision',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('created_at', fields.DatetimeField(default=now, auto_now=False, auto_now_add=False)),
                ('task', fields.ForeignKeyField('models.Task', source_field='task_id', db_constraint=True, to_field='id', related_name='instruction_revisions', on_delete=OnDelete.CASCADE)),
                ('number', fields.IntField()),
                ('instructions', fields.TextField(unique=False)),
                ('member', fields.ForeignKeyField('models.Member', source_field='member_id', null=True, db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.SET_NULL)),
            ],
            options={'table': 'instruction_revision', 'app': 'models', 'unique_together': (('task', 'number'),), 'pk_attr': 'id', 'table_description': "One version of a task's instructions: its text, when it was set and by whom."},
            bases=['Entity'],
        ),
        ops.CreateModel(
            name='Thread',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('created_at', fields.DatetimeField(default=now, auto_now=False, auto_now_add=False)),
                ('account', fields.ForeignKeyField('models.Account', source_field='account_id', db_constraint=True, to_field='id', related_name='threads', on_delete=OnDelete.CASCADE)),
                ('worker', fields.ForeignKeyField('models.Worker', source_field='worker_id', db_constraint=True, to_field='id', related_name='threads', on_delete=OnDelete.CASCADE)),
                ('task', fields.ForeignKeyField('models.Task', source_field='task_id', null=True, db_constraint=True, to_field='id', related_name='threads', on_delete=OnDelete.CASCADE)),
                ('submission', fields.ForeignKeyField('models.Submission', source_field='submission_id', null=True, db_constraint=True, to_field='id', related_name='threads', on_delete=OnDelete.CASCADE)),
                ('state', fields.CharEnumField(description='OPEN: OPEN\nANSWERED: ANSWERED\nCLOSED: CLOSED', enum_type=ThreadState, max_length=16)),
                ('opened_by', fields.CharEnumField(description='MEMBER: MEMBER\nWORKER: WORKER\nRULE: RULE\nSYSTEM: SYSTEM', enum_type=ActorKind, max_length=16)),
                ('asked_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('response_target_seconds', fields.IntField(null=True)),
                ('first_due_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('first_response_seconds', fields.IntField(null=True)),
                ('waiting_since', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('due_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('overdue_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('last_message_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('closed_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('message_count', fields.IntField(default=0)),
            ],
            options={'table': 'thread', 'app': 'models', 'constraints': [CheckConstraint(check="state <> 'OPEN' OR due_at IS NOT NULL", name='thread_open_has_due')], 'indexes': [Index(fields=['account_id', 'last_message_at'], name='thread_account_last'), Index(fields=['account_id', 'state', 'due_at'], name='thread_account_state_due'), Index(fields=['task_id', 'state', 'due_at'], name='thread_task_state_due'), Index(fields=['worker_id', 'last_message_at'], name='thread_worker_last'), Index(fields=['state', 'overdue_at', 'due_at'], name='thread_overdue_sweep')], 'pk_attr': 'id', 'table_description': "A conversation between a worker and an account's team about a task or a submission."},
            bases=['Entity'],
        ),
        ops.CreateModel(
            name='FaqEntry',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('created_at', fields.DatetimeField(default=now, auto_now=False, auto_now_add=False)),
                ('account', fields.ForeignKeyField('models.Account', source_field='account_id', db_constraint=True, to_field='id', related_name='faq_entries', on_delete=OnDelete.CASCADE)),
                ('task', fields.ForeignKeyField('models.Task', source_field='task_id', db_constraint=True, to_field='id', related_name='faq', on_delete=OnDelete.CASCADE)),
                ('question', fields.TextField(unique=False)),
                ('answer', fields.TextField(unique=False)),
                ('thread', fields.ForeignKeyField('models.Thread', source_field='thread_id', null=True, db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.SET_NULL)),
                ('created_by', fields.ForeignKeyField('models.Member', source_field='created_by_id', null=True, db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.SET_NULL)),
            ],
            options={'table': 'faq_entry', 'app': 'models', 'indexes': [Index(fields=['task_id', 'created_at'], name='faq_entry_task')], 'pk_attr': 'id', 'table_description': "A question and its answer on a task's FAQ, shown with its instructions."},
            bases=['Entity'],
        ),
        ops.CreateModel(
            name='ThreadMessage',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('created_at', fields.DatetimeField(default=now, auto_now=False, auto_now_add=False)),
                ('thread', fields.ForeignKeyField('models.Thread', source_field='thread_id', db_constraint=True, to_field='id', related_name='messages', on_delete=OnDelete.CASCADE)),
                ('author_kind', fields.CharEnumField(description='MEMBER: MEMBER\nWORKER: WORKER\nRULE: RULE\nSYSTEM: SYSTEM', enum_type=ActorKind, max_length=16)),
                ('member', fields.ForeignKeyField('models.Member', source_field='member_id', null=True, db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.SET_NULL)),
                ('kind', fields.CharEnumField(description='QUESTION: QUESTION\nREPLY: REPLY\nMESSAGE: MESSAGE\nREVIEW_NOTE: REVIEW_NOTE', enum_type=MessageKind, max_length=16)),
                ('body', fields.TextField(unique=False)),
            ],
            options={'table': 'thread_message', 'app': 'models', 'indexes': [Index(fields=['thread_id', 'created_at'], name='thread_message_thread')], 'pk_attr': 'id', 'table_description': 'One message of a thread, by the worker or by a member of the account.'},
            bases=['Entity'],
        ),
        ops.AddField(
            model_name='Account',
            name='response_target_seconds',
            field=fields.IntField(default=86400),
        ),
        ops.AlterField(
            model_name='Restriction',
            name='kind',
            field=fields.CharEnumField(description='SUSPENSION: SUSPENSION\nBAN: BAN\nMUTE: MUTE', enum_type=RestrictionKind, max_length=16),
        ),
    ]
