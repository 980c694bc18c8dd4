// What the developer's backend does, with Nango's Node SDK: `session <endUserId> <integration,...>`
// prints a connect session token; `records <connectionId>` prints how many issues the first
// sync stored.
import { Nango } from '@nangohq/node';

const [command, ...args] = process.argv.slice(2);
const nango = new Nango({ host: process.env.NANGO_HOST, secretKey: process.env.NANGO_SECRET_KEY });
if (command === 'session') {
    const [user, integrations] = args;
    const { data } = await nango.createConnectSession({
        end_user: { id: user, email: `${user}@example.com` },
        allowed_integrations: integrations.split(','),
    });
    console.log(JSON.stringify(data));
} else if (command === 'records') {
    const page = await nango.listRecords({ providerConfigKey: 'github', connectionId: args[0], model: 'Issue' });
    console.log(JSON.stringify({ count: page.records.length, first: page.records[0] }));
} else {
    throw new Error(`unknown command ${command}`);
}
