"""DynamoDB access. Repositories take their boto3 client as an argument."""
