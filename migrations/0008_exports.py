from tortoise import migrations
from tortoise.migrations import operations as ops
import functools
from gql_server.clock import now
from json import dumps, loads
from tortoise.fields.base import OnDelete
from tortoise import fields
from tortoise.indexes import Index

class Migration(migrations.Migration):
    dependencies = [('models', '0007_analytics_indexes')]

    initial = False

    operations = [
        ops.CreateModel(
            name='ExportLink',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('created_at', fields.DatetimeField(default=now, auto_now=False, auto_now_add=False)),
                ('token_hash', fields.CharField(unique=True, max_length=64)),
                ('account', fields.ForeignKeyField('models.Account', source_field='account_id', db_constraint=True, to_field='id', related_name='export_links', on_delete=OnDelete.CASCADE)),
                ('member', fields.ForeignKeyField('models.Member', source_field='member_id', db_constraint=True, to_field='id', related_name='export_links', on_delete=OnDelete.CASCADE)),
                ('api_key', fields.ForeignKeyField('models.ApiKey', source_field='api_key_id', db_constraint=True, to_field='id', related_name='export_links', on_delete=OnDelete.CASCADE)),
                ('kind', fields.CharField(max_length=32)),
                ('format', fields.CharField(max_length=8)),
                ('params', fields.JSONField(default=dict, encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
                ('expires_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'export_link', 'app': 'models', 'indexes': [Index(fields=['member_id', 'expires_at'], name='export_link_member_expires')], 'pk_attr': 'id', 'table_description': 'A download link of an export, made by a member with one of its API keys.'},
            bases=['Entity'],
        ),
    ]
