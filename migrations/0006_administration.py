from tortoise import migrations
from tortoise.migrations import operations as ops
import functools
from gql_server.clock import now
from gql_server.models.enums import AdminAction
from json import dumps, loads
from tortoise.fields.base import OnDelete
from tortoise import fields
from tortoise.indexes import Index

class Migration(migrations.Migration):
    dependencies = [('models', '0005_submission_audited_index')]

    initial = False

    operations = [
        ops.CreateModel(
            name='AdminActivity',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('created_at', fields.DatetimeField(default=now, auto_now=False, auto_now_add=False)),
                ('account', fields.ForeignKeyField('models.Account', source_field='account_id', db_constraint=True, to_field='id', related_name='admin_activity', on_delete=OnDelete.CASCADE)),
                ('actor', fields.ForeignKeyField('models.Member', source_field='actor_id', null=True, db_constraint=True, to_field='id', related_name='admin_activity', on_delete=OnDelete.SET_NULL)),
                ('action', fields.CharEnumField(description='MEMBER_ADDED: MEMBER_ADDED\nMEMBER_ROLE_CHANGED: MEMBER_ROLE_CHANGED\nMEMBER_REMOVED: MEMBER_REMOVED\nAPI_KEY_CREATED: API_KEY_CREATED\nAPI_KEY_REVOKED: API_KEY_REVOKED\nAPI_KEY_ROTATED: API_KEY_ROTATED\nENDPOINT_CREATED: ENDPOINT_CREATED\nENDPOINT_UPDATED: ENDPOINT_UPDATED\nENDPOINT_DELETED: ENDPOINT_DELETED\nENDPOINT_SECRET_ROTATED: ENDPOINT_SECRET_ROTATED\nRESTRICTION_LIFTED: RESTRICTION_LIFTED', enum_type=AdminAction, max_length=32)),
                ('subject_type', fields.CharField(max_length=32)),
                ('subject_id', fields.BigIntField()),
                ('details', fields.JSONField(encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
            ],
            options={'table': 'admin_activity', 'app': 'models', 'indexes': [Index(fields=['account_id', 'created_at'], name='admin_activity_account')], 'pk_attr': 'id', 'table_description': "One administrative change of an account, for its owners' activity log: who did what"},
            bases=['Entity'],
        ),
        ops.CreateModel(
            name='OperatorKey',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('created_at', fields.DatetimeField(default=now, auto_now=False, auto_now_add=False)),
                ('key_hash', fields.CharField(unique=True, max_length=64)),
                ('prefix', fields.CharField(max_length=16)),
                ('name', fields.CharField(default='', max_length=200)),
                ('last_used_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('revoked_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'operator_key', 'app': 'models', 'pk_attr': 'id', 'table_description': "A credential of the instance's operator (the partner application workers sign up"},
            bases=['Entity'],
        ),
        ops.AddField(
            model_name='Account',
            name='sandbox',
            field=fields.BooleanField(default=False),
        ),
        ops.AddField(
            model_name='Account',
            name='twin_of',
            field=fields.OneToOneField('models.Account', source_field='twin_of_id', null=True, db_constraint=True, to_field='id', related_name='sandbox_twin', on_delete=OnDelete.SET_NULL),
        ),
        ops.AddField(
            model_name='ApiKey',
            name='expires_at',
            field=fields.DatetimeField(null=True, auto_now=False, auto_now_add=False),
        ),
        ops.AddField(
            model_name='ApiKey',
            name='read_only',
            field=fields.BooleanField(default=False),
        ),
        ops.AddField(
            model_name='Member',
            name='removed_at',
            field=fields.DatetimeField(null=True, auto_now=False, auto_now_add=False),
        ),
        ops.AddField(
            model_name='WebhookEndpoint',
            name='description',
            field=fields.CharField(default='', max_length=500),
        ),
        ops.AddField(
            model_name='WebhookEndpoint',
            name='event_types',
            field=fields.JSONField(null=True, encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads),
        ),
        ops.AddField(
            model_name='WebhookEndpoint',
            name='previous_secret',
            field=fields.CharField(null=True, max_length=128),
        ),
        ops.AddField(
            model_name='WebhookEndpoint',
            name='previous_secret_until',
            field=fields.DatetimeField(null=True, auto_now=False, auto_now_add=False),
        ),
        ops.AddField(
            model_name='WebhookEndpoint',
            name='subscribed',
            field=fields.BooleanField(default=False),
        ),
        ops.AddField(
            model_name='Worker',
            name='simulated',
            field=fields.BooleanField(default=False),
        ),
    ]
