import type { OpenAPIObject } from '@nestjs/swagger';
import type { ProviderAdapter } from '@herald/events';

export const SOURCE_ACTION_PATH = '/v1/sources/{id}/{action}';

/**
 * The action route is one route for every provider's actions: its `action` and body are described
 * from what the adapters say of theirs, so the document names each action and its body.
 */
export function documentSourceActions(document: OpenAPIObject, adapters: readonly ProviderAdapter[]): void {
  const operation = document.paths[SOURCE_ACTION_PATH]?.post;
  if (!operation) return;
  const actions = adapters.flatMap((adapter) =>
    Object.entries(adapter.actionDocs ?? {}).map(([name, doc]) => ({
      provider: adapter.provider,
      name,
      doc,
    })),
  );
  operation.parameters = (operation.parameters ?? []).map((parameter) =>
    'name' in parameter && parameter.name === 'action'
      ? {
          ...parameter,
          schema: { type: 'string', enum: [...new Set(actions.map((action) => action.name))] },
          description: actions.map(({ name, doc }) => `\`${name}\`: ${doc.summary}`).join('\n\n'),
        }
      : parameter,
  );
  operation.requestBody = {
    required: true,
    content: {
      'application/json': {
        schema: {
          oneOf: actions.map(({ provider, name, doc }) => ({ title: `${provider} ${name}`, ...doc.input })),
        },
      },
    },
  };
}
