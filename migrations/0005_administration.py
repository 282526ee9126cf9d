from tortoise import migrations
from tortoise.migrations import operations as ops
import functools
from gql_server.clock import now
from json import dumps, loads
from tortoise import fields

class Migration(migrations.Migration):
    dependencies = [('models', '0004_stream_changes')]

    initial = False

    operations = [
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
    ]
