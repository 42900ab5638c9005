"""CloudFormation custom resources: deploy-time actions a template cannot declare (activating the SES
receipt rule set). Each answers CloudFormation through its response URL, whatever happens."""
