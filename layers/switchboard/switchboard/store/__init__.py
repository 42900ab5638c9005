"""The store: the only code that touches DynamoDB and S3. One DynamoDB table holds every aggregate, each with
its repository over the shared table layer (table.py): tickets.py, messages.py, audits.py, contacts.py,
held_mail.py, replay_tokens.py, outbox.py, send_rates.py, sla_rules.py, sla_timers.py, sla_notices.py, due_index.py, orders.py, notifications.py, customers.py and
notification_rules.py;
repositories.py bundles them. The key schema of the table:

| item           | pk                              | sk                   | index keys                                   | serves                                   |
|----------------|---------------------------------|----------------------|----------------------------------------------|------------------------------------------|
| ticket         | TICKET#<ticket_id>              | TICKET               | ByStatus: status_pk=STATUS#<s>, created_sk   | get a ticket; list by status, newest first |
|                |                                 |                      | ByCreated: created_pk=TICKETS, created_sk    | list all tickets, newest first           |
|                |                                 |                      | ByAssignee: assignee_pk=ASSIGNEE#<id>, created_sk | an assignee's tickets (+ group filter) |
|                |                                 |                      | ByAssigneeStatus: assignee_status_pk=ASSIGNEE#<id>#<s>, created_sk | an assignee's tickets of a status |
|                |                                 |                      | ByGroup: group_pk=GROUP#<id>, created_sk     | a group's tickets                        |
|                |                                 |                      | ByGroupStatus: group_status_pk=GROUP#<id>#<s>, created_sk | a group's tickets of a status |
|                |                                 |                      | ByRequester: requester_pk=CONTACT#<id>, created_sk | a contact's tickets, every channel  |
|                |                                 |                      | ByCloseDue: close_due_pk=CLOSE_DUE, close_due_sk=<solved at>#<id> (while solved) | solved tickets due to close |
| message        | TICKET#<ticket_id>              | MSG#<sent at>#<seq>  |                                              | a ticket's timeline, paged; one message  |
| audit          | TICKET#<ticket_id>              | AUDIT#<version>      |                                              | a ticket's changes by agents, oldest first |
| message index  | MESSAGE#<channel>#<external id> | MESSAGE              |                                              | exactly-once append; receipts -> message |
| conversation   | CONVERSATION#<conversation key> | CONVERSATION         |                                              | the current ticket of a conversation     |
| identity       | IDENTITY#<identity key>         | IDENTITY             |                                              | channel identity -> contact              |
| phone          | PHONE#<E.164 number>            | PHONE                |                                              | verified phone -> contact, across channels |
| contact        | CONTACT#<contact_id>            | CONTACT              |                                              | a contact with all its identities        |
| ticket counter | COUNTER                         | TICKET_NUMBER        |                                              | gapless human-friendly ticket numbers    |
| ticket number  | NUMBER#<number>                 | NUMBER               |                                              | ticket number -> ticket ([#123] in a subject) |
| held mail      | HELD#<external id>              | HELD                 | ByStatus: status_pk=HELD#<handling>, created_sk | mail kept out of tickets, newest first (until released) |
| replay token   | REPLAY#<provider>#<token>       | REPLAY               |                                              | a signed webhook token is used once (TTL) |
| send attempt   | ATTEMPT#<attempt id>            | ATTEMPT              | ByOutboxDue: outbox_pk=OUTBOX#<0..7>, outbox_due=<due at or lease end>#<id> (until settled) | a reply's send attempt, claimed and settled once; overdue ones for the sweep |
| send rate      | RATE#<channel>#<account>        | RATE                 |                                              | when an account's next send may go (pacing; TTL) |
| SLA rules      | SLA#RULES                       | CURRENT              |                                              | the policies and schedules every ticket write applies |
| rules version  | SLA#RULES                       | POLICIES#<version>   |                                              | the policy list's history                |
| SLA schedule   | SLA#SCHEDULE#<id>               | V#<version>          |                                              | a schedule's history                     |
| SLA notice     | TICKET#<ticket_id>              | SLANOTICE#<metric>#<activation>#<level>#<action>#<kind> | BySlaDue (until delivered) | one escalation's notify to one target, sent at least once |
| SLA cursor     | SLA#SWEEP                       | CURSOR               |                                              | the enforcer's first unsettled due minute |
| notification rules | NOTIFY#RULES                 | CURRENT              |                                              | the rules every shop event and notification applies |
| rules version  | NOTIFY#RULES                    | V#<version>          |                                              | the notification rules' history          |
| order event    | ORDEREVENT#<key_part(dedup_key)> | ORDEREVENT           | (TTL expires_at: processed + 30 days)        | a shop event is processed once (first action of its transaction); the intake's duplicate check |
| order          | ORDER#<order_part(order_key)>   | ORDER                | ByCustomer: customer_pk=CUSTOMER#<contact_id>, customer_sk=ORDER#<placed at, else first seen>#<order_part> | an order and its shipments (OrderState), on its `version`; a contact's orders, newest first |
|                |                                 |                      | ByNotifyDue: notify_due_pk=NOTIFYDUE#<minute>#<0..3>, notify_due_sk=<due>#<pk> (while a delay watch runs) | orders whose promised delivery date + grace passed (delay apology) |
| notification   | NOTIFY#<id>                     | NOTIFY               | ByCustomer: customer_sk=NOTIFY#<created at>#<id> | one per (order, event type, contact): claimed, settled once; a contact's notifications, newest first |
|                |                                 |                      | ByNotifyDue while queued (due_at) or sending (lease end) | what the scheduler queues again (lost enqueue, deferral, dead sender) |
| notification cursor | NOTIFY#SWEEP               | CURSOR               |                                              | the scheduler's first unsettled due minute (store/due_index.py) |
| shop customer link | SHOPCUSTOMER#<key_part(source#shop#customer id)> | SHOPCUSTOMER |                          | a shop's customer id -> contact (claimed once) |
| email link     | EMAIL#<key_part(lowercased address)> | EMAIL           |                                              | an order's email -> contact (claimed once) |
| notification receipt index | MESSAGE#<timeline channel>#<provider id> | MESSAGE |                                  | (the message index entry) + `notification_id`; ticket_id/message_sk only when posted on a ticket |

order_part(order_key) is key_part(order_key), replaced by its SHA-256 when its UTF-8 passes 600 bytes (index sort
keys carry it, at most 1,024 bytes). ByNotifyDue is a due-minute index like BySlaDue (store/due_index.py):
notify_due_pk=NOTIFYDUE#<due minute, UTC>#<0..3>, notify_due_sk=<due at>#<pk>. ByCustomer lists a contact's orders
and notifications: customer_pk=CUSTOMER#<contact_id>, customer_sk=ORDER#<placed at>#<order> or NOTIFY#<created>#<id>.
The contact item also holds `email`, `locale`, `timezone`, `consent` and `last_notification`.

Tickets and notices with something due carry BySlaDue: sla_due_pk=SLADUE#<due minute>#<0..3>,
sla_due_sk=<due at>#<pk> (store/sla_timers.py); tickets with a running SLA clock carry BySlaState:
sla_state_pk=SLA#<breached|warning|active>, sla_state_sk=<due>#<ticket_id>.

created_sk is "<created at, fixed-width UTC>#<ticket_id>" (for held mail, "#<external id>"). The view indexes
(all but ByStatus and ByCreated) project keys only, so a message appended costs them no write; a listing reads
the page's tickets by key (docs/data-model.md, "Ticket views"). Email
messages use the message index with the channel "email" and the normalized Message-ID as external id,
which is also how replies find their ticket (In-Reply-To/References). A message's `attachments` list keeps the
webhook's order; the media job finds the message through its message index and sets `storage_key`,
`sha256`, `size_bytes`, `mime_type` and `fetch_status` on `attachments[<index>]`. Every write that must not happen twice is
conditional and the writes of one inbound message commit in one transaction, so a crash between
calls leaves nothing half-written. A key part from a provider longer than 512 characters is replaced by its SHA-256
(table.key_part). Mirrored in docs/data-model.md.
"""
